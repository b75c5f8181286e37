/** DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44). */
import { ErrorCode, KafkaError, errorCodeOf, errorMessageOf } from '../errors.ts';
import { brokerSetting, brokerSettings, topicSetting, topicSettings, validateDynamicBrokerConfig } from '../config.ts';
import type { ConfigType } from '../config.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

/** Kafka's ConfigSource values. */
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_DYNAMIC_BROKER = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER = 3;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

/** Kafka's ConfigType values (DescribeConfigs v3+). */
const CONFIG_TYPE: Record<ConfigType, number> = { boolean: 1, string: 2, int: 3, long: 5, double: 6, list: 7 };

interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: Array<{ name: string; value: string | null; source: number }>;
  configType: number;
  documentation: string | null;
}

/** The effective configs of a topic with their sources, as DescribeConfigs reports them. */
export function describeTopicConfigs(broker: BrokerServices, overrides: Readonly<Record<string, string>>, keys: string[] | null,
  includeSynonyms: boolean, includeDocumentation: boolean): ConfigEntry[] {
  return topicSettings.filter((s) => keys === null || keys.includes(s.name)).map((s) => {
    const synonym = s.brokerSynonym;
    const brokerValue = synonym ? broker.settings.get(synonym) : s.default ?? null;
    const brokerSource = synonym && broker.settings.isExplicit(synonym) ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
    const own = overrides[s.name];
    const synonyms = [];
    if (own !== undefined) synonyms.push({ name: s.name, value: own, source: SOURCE_DYNAMIC_TOPIC });
    if (synonym && brokerSource === SOURCE_STATIC_BROKER) synonyms.push({ name: synonym, value: brokerValue, source: SOURCE_STATIC_BROKER });
    const brokerDefault = synonym ? brokerSetting(synonym) : undefined;
    if (brokerDefault && !brokerDefault.defaultFromAlias) synonyms.push({ name: brokerDefault.name, value: brokerDefault.default, source: SOURCE_DEFAULT });
    const configSource = own !== undefined ? SOURCE_DYNAMIC_TOPIC : brokerSource;
    return {
      name: s.name,
      value: own ?? brokerValue,
      readOnly: false,
      isDefault: configSource === SOURCE_DEFAULT,
      configSource,
      isSensitive: false,
      synonyms: includeSynonyms ? synonyms : [],
      configType: CONFIG_TYPE[s.type],
      documentation: includeDocumentation ? s.doc : null,
    };
  });
}

/**
 * A broker's configs as Kafka describes them: a dynamic config set for this broker
 * (DYNAMIC_BROKER_CONFIG) over the cluster default (DYNAMIC_DEFAULT_BROKER_CONFIG, resource name
 * '') over the static setting. `entity` is the broker id asked about, or '' for the default.
 */
function describeBrokerConfigs(broker: BrokerServices, entity: string, keys: string[] | null, includeSynonyms: boolean, includeDocumentation: boolean): ConfigEntry[] {
  const dynamic = broker.dynamicBrokerConfigs();
  return brokerSettings.filter((s) => keys === null || keys.includes(s.name)).map((s) => {
    const staticSource = broker.settings.isExplicit(s.name) ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
    const layers = [
      ...(entity !== '' && dynamic[entity]?.[s.name] !== undefined ? [{ value: dynamic[entity]![s.name]!, source: SOURCE_DYNAMIC_BROKER }] : []),
      ...(dynamic['']?.[s.name] !== undefined ? [{ value: dynamic['']![s.name]!, source: SOURCE_DYNAMIC_DEFAULT_BROKER }] : []),
      { value: broker.settings.get(s.name), source: staticSource },
    ];
    const { value, source } = layers[0]!;
    return {
      name: s.name, value, readOnly: !s.dynamic, isDefault: source === SOURCE_DEFAULT, configSource: source, isSensitive: false,
      synonyms: includeSynonyms ? layers.map((l) => ({ name: s.name, value: l.value, source: l.source })) : [],
      configType: CONFIG_TYPE[s.type], documentation: includeDocumentation ? s.doc : null,
    };
  });
}


export const describeConfigsHandler: ApiHandler<32> = {
  apiKey: 32,
  minVersion: 1,
  maxVersion: 4,
  handle(req, { broker }) {
    const results = req.resources.map((r) => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      try {
        let configs: ConfigEntry[];
        if (r.resourceType === RESOURCE_TOPIC) {
          const topic = broker.topic(r.resourceName);
          if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${r.resourceName}' does not exist.`);
          configs = describeTopicConfigs(broker, topic.spec.configs, r.configurationKeys, req.includeSynonyms, req.includeDocumentation);
        } else if (r.resourceType === RESOURCE_BROKER) {
          checkBrokerResource(broker, r.resourceName);
          configs = describeBrokerConfigs(broker, r.resourceName, r.configurationKeys, req.includeSynonyms, req.includeDocumentation);
        } else {
          throw new KafkaError('INVALID_REQUEST', `Unsupported resource type ${r.resourceType}`);
        }
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
      } catch (err) {
        return { ...base, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err), configs: [] };
      }
    });
    return { throttleTimeMs: 0, results };
  },
};

function checkBrokerResource(broker: BrokerServices, name: string): void {
  if (name !== '' && name !== String(broker.nodeId)) {
    throw new KafkaError('INVALID_REQUEST', `Broker ${name} is not this broker (${broker.nodeId}); ask that broker.`);
  }
}

type Edit = (current: Readonly<Record<string, string>>) => Record<string, string>;

/**
 * Dynamic broker configs of one entity (a broker id, '' = cluster default) edited and stored in
 * the metadata store, which every broker watches; only the settings marked dynamic are accepted.
 */
async function alterBrokerConfigs(broker: BrokerServices, entity: string, edit: Edit, validateOnly: boolean): Promise<void> {
  const next = edit(broker.dynamicBrokerConfigs()[entity] ?? {});
  for (const [name, value] of Object.entries(next)) validateDynamicBrokerConfig(name, value);
  if (!validateOnly) await broker.store.setBrokerConfigs(entity, next);
}

async function alterResources(broker: BrokerServices, resources: Array<{ resourceType: number; resourceName: string }>,
  editFor: (index: number, kind: 'topic' | 'broker') => Edit, validateOnly: boolean) {
  const responses = [];
  for (const [i, r] of resources.entries()) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      if (r.resourceType === RESOURCE_BROKER) {
        checkBrokerResource(broker, r.resourceName);
        await alterBrokerConfigs(broker, r.resourceName, editFor(i, 'broker'), validateOnly);
        responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
        continue;
      }
      if (r.resourceType !== RESOURCE_TOPIC) throw new KafkaError('INVALID_REQUEST', `Unsupported resource type ${r.resourceType}`);
      await broker.admin.alterConfigs(r.resourceName, editFor(i, 'topic'), validateOnly);
      await broker.settled();
      responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      responses.push({ ...base, errorCode: errorCodeOf(err), errorMessage: errorMessageOf(err) });
    }
  }
  return { throttleTimeMs: 0, responses };
}


export const alterConfigsHandler: ApiHandler<33> = {
  apiKey: 33,
  minVersion: 0,
  maxVersion: 2,
  handle(req, { broker }) {
    return alterResources(broker, req.resources, (i) => () => {
      const out: Record<string, string> = {};
      for (const c of req.resources[i]!.configs) if (c.value !== null) out[c.name] = c.value;
      return out;
    }, req.validateOnly);
  },
};

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;


export const incrementalAlterConfigsHandler: ApiHandler<44> = {
  apiKey: 44,
  minVersion: 0,
  maxVersion: 1,
  handle(req, { broker }) {
    return alterResources(broker, req.resources, (i, kind) => (current) => {
      const out: Record<string, string> = { ...current };
      for (const c of req.resources[i]!.configs) {
        const setting = kind === 'topic' ? topicSetting(c.name) : brokerSetting(c.name);
        if (!setting) throw new KafkaError('INVALID_CONFIG', `Unknown ${kind} config name: ${c.name}`);
        const effective = () => (out[c.name] ?? broker.settings.topicConfigs({})[c.name] ?? '').split(',').filter((x) => x !== '');
        switch (c.configOperation) {
          case OP_SET:
            if (c.value === null) throw new KafkaError('INVALID_CONFIG', `Null value for ${c.name}`);
            out[c.name] = c.value;
            break;
          case OP_DELETE:
            delete out[c.name];
            break;
          case OP_APPEND:
          case OP_SUBTRACT: {
            if (setting.type !== 'list') throw new KafkaError('INVALID_CONFIG', `${c.name} is not a list; APPEND and SUBTRACT apply to lists only`);
            const items = (c.value ?? '').split(',').filter((x) => x !== '');
            const list = effective();
            out[c.name] = (c.configOperation === OP_APPEND ? [...new Set([...list, ...items])] : list.filter((x) => !items.includes(x))).join(',');
            break;
          }
          default:
            throw new KafkaError('INVALID_REQUEST', `Unknown config operation ${c.configOperation}`);
        }
      }
      return out;
    }, req.validateOnly);
  },
};
