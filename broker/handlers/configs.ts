/** DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44). */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { brokerSettings, topicSetting, topicSettings } from '../config.ts';
import type { ConfigType } from '../config.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

/** Kafka's ConfigSource values. */
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

/** Kafka's ConfigType values (DescribeConfigs v3+). */
const CONFIG_TYPE: Record<ConfigType, number> = { boolean: 1, string: 2, int: 3, long: 5, list: 7 };

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
    const brokerValue = broker.settings.get(s.brokerSynonym);
    const brokerSource = broker.settings.isExplicit(s.brokerSynonym) ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
    const own = overrides[s.name];
    const synonyms = [];
    if (own !== undefined) synonyms.push({ name: s.name, value: own, source: SOURCE_DYNAMIC_TOPIC });
    if (brokerSource === SOURCE_STATIC_BROKER) synonyms.push({ name: s.brokerSynonym, value: brokerValue, source: SOURCE_STATIC_BROKER });
    synonyms.push({ name: s.brokerSynonym, value: brokerSettings.find((b) => b.name === s.brokerSynonym)?.default ?? null, source: SOURCE_DEFAULT });
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

function describeBrokerConfigs(broker: BrokerServices, keys: string[] | null, includeSynonyms: boolean, includeDocumentation: boolean): ConfigEntry[] {
  return brokerSettings.filter((s) => keys === null || keys.includes(s.name)).map((s) => {
    const source = broker.settings.isExplicit(s.name) ? SOURCE_STATIC_BROKER : SOURCE_DEFAULT;
    const value = broker.settings.get(s.name);
    return {
      name: s.name, value, readOnly: true, isDefault: source === SOURCE_DEFAULT, configSource: source, isSensitive: false,
      synonyms: includeSynonyms ? [{ name: s.name, value, source }] : [],
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
          configs = describeBrokerConfigs(broker, r.configurationKeys, req.includeSynonyms, req.includeDocumentation);
        } else {
          throw new KafkaError('INVALID_REQUEST', `Unsupported resource type ${r.resourceType}`);
        }
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
      } catch (err) {
        return { ...base, errorCode: errorCodeOf(err), errorMessage: (err as Error).message, configs: [] };
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

async function alterResources(broker: BrokerServices, resources: Array<{ resourceType: number; resourceName: string }>,
  editFor: (index: number) => Edit, validateOnly: boolean) {
  const responses = [];
  for (const [i, r] of resources.entries()) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      if (r.resourceType === RESOURCE_BROKER) {
        checkBrokerResource(broker, r.resourceName);
        throw new KafkaError('INVALID_REQUEST', 'Brook brokers take their settings at start (config file, --set); dynamic broker configs are not supported.');
      }
      if (r.resourceType !== RESOURCE_TOPIC) throw new KafkaError('INVALID_REQUEST', `Unsupported resource type ${r.resourceType}`);
      await broker.admin.alterConfigs(r.resourceName, editFor(i), validateOnly);
      await broker.settled();
      responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      responses.push({ ...base, errorCode: errorCodeOf(err), errorMessage: (err as Error).message });
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
    return alterResources(broker, req.resources, (i) => (current) => {
      const out: Record<string, string> = { ...current };
      for (const c of req.resources[i]!.configs) {
        const setting = topicSetting(c.name);
        if (!setting) throw new KafkaError('INVALID_CONFIG', `Unknown topic config name: ${c.name}`);
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
