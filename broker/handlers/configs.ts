/** DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44). */
import { ErrorCode, KafkaError, errorCodeOf, errorMessageOf } from '../errors.ts';
import { brokerSetting, brokerSettings, topicSetting, topicSettings, validateDynamicBrokerConfig } from '../config.ts';
import type { BrokerConfigSource, ConfigType } from '../config.ts';
import { AclOperation, requireCluster, requireTopic } from './authz.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './index.ts';

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

const SOURCE_CODE: Record<BrokerConfigSource, number> = {
  DYNAMIC_BROKER_CONFIG: SOURCE_DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER_CONFIG: SOURCE_DYNAMIC_DEFAULT_BROKER,
  STATIC_BROKER_CONFIG: SOURCE_STATIC_BROKER, DEFAULT_CONFIG: SOURCE_DEFAULT,
};

/**
 * The effective configs of a topic with their sources, as DescribeConfigs reports them: the
 * topic's override (DYNAMIC_TOPIC_CONFIG) over its broker synonym's layers (dynamic for this
 * broker, dynamic cluster default, static, default). Kafka lists no DEFAULT_CONFIG synonym for a
 * broker name whose default an hours/minutes alias supplies (log.retention.ms, log.roll.ms, ...).
 */
export function describeTopicConfigs(broker: BrokerServices, overrides: Readonly<Record<string, string>>, keys: string[] | null,
  includeSynonyms: boolean, includeDocumentation: boolean): ConfigEntry[] {
  return topicSettings.filter((s) => keys === null || keys.includes(s.name)).map((s) => {
    const synonym = s.brokerSynonym ? brokerSetting(s.brokerSynonym) : undefined;
    const brokerLayers = synonym ? broker.settings.layers(synonym.name) : [{ value: s.default ?? null, source: 'DEFAULT_CONFIG' as const }];
    const own = overrides[s.name];
    const synonyms: ConfigEntry['synonyms'] = [];
    if (own !== undefined) synonyms.push({ name: s.name, value: own, source: SOURCE_DYNAMIC_TOPIC });
    if (synonym) {
      for (const l of brokerLayers) {
        if (l.source === 'DEFAULT_CONFIG' && synonym.defaultFromAlias) continue;
        synonyms.push({ name: synonym.name, value: l.value, source: SOURCE_CODE[l.source] });
      }
    }
    const configSource = own !== undefined ? SOURCE_DYNAMIC_TOPIC : SOURCE_CODE[brokerLayers[0]!.source];
    return {
      name: s.name,
      value: own ?? brokerLayers[0]!.value,
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
 * The metadata version Brook's protocol implements, reported as `inter.broker.protocol.version`:
 * Kafka 4 dropped that config (KRaft keeps metadata.version as a feature), but UIs such as
 * kafka-ui still read it from a broker's configs to decide which features the cluster has.
 */
export const INTER_BROKER_PROTOCOL_VERSION = '4.1-IV1';

/** Read-only facts about this broker, described as Kafka describes its static identity configs. */
function brokerFacts(broker: BrokerServices): Array<{ name: string; value: string; type: ConfigType; source: number; doc: string }> {
  return [
    { name: 'broker.id', value: String(broker.nodeId), type: 'int', source: SOURCE_STATIC_BROKER, doc: 'This broker\'s id.' },
    { name: 'node.id', value: String(broker.nodeId), type: 'int', source: SOURCE_STATIC_BROKER, doc: 'This broker\'s id (KRaft name).' },
    { name: 'log.dirs', value: broker.logDir, type: 'string', source: SOURCE_STATIC_BROKER, doc: 'The directory holding this broker\'s partition logs (one per broker).' },
    { name: 'inter.broker.protocol.version', value: INTER_BROKER_PROTOCOL_VERSION, type: 'string', source: SOURCE_DEFAULT,
      doc: 'The Kafka protocol version the brokers speak. Kafka 4 no longer reports it; Brook does, for tools that read it.' },
  ];
}

/**
 * A broker's configs as Kafka describes them: a dynamic config set for this broker
 * (DYNAMIC_BROKER_CONFIG) over the cluster default (DYNAMIC_DEFAULT_BROKER_CONFIG, resource name
 * '') over the static setting, then the read-only facts (broker.id, log.dirs, ...). `entity` is
 * the broker id asked about, or '' for the cluster default.
 */
function describeBrokerConfigs(broker: BrokerServices, entity: string, keys: string[] | null, includeSynonyms: boolean, includeDocumentation: boolean): ConfigEntry[] {
  // The cluster default ('') is described as Kafka does: only the configs set there, with that one source.
  const layersOf = (name: string) => broker.settings.layers(name).filter((l) => entity !== '' || l.source === 'DYNAMIC_DEFAULT_BROKER_CONFIG');
  const settings = brokerSettings.filter((s) => (keys === null || keys.includes(s.name)) && layersOf(s.name).length > 0).map((s) => {
    const layers = layersOf(s.name);
    const { value, source } = layers[0]!;
    const hide = (v: string | null) => (s.sensitive ? null : v);
    return {
      name: s.name, value: hide(value), readOnly: !s.dynamic, isDefault: source === 'DEFAULT_CONFIG', configSource: SOURCE_CODE[source], isSensitive: s.sensitive === true,
      synonyms: includeSynonyms ? layers.map((l) => ({ name: s.name, value: hide(l.value), source: SOURCE_CODE[l.source] })) : [],
      configType: CONFIG_TYPE[s.type], documentation: includeDocumentation ? s.doc : null,
    };
  });
  const facts = entity === '' ? [] : brokerFacts(broker).filter((f) => keys === null || keys.includes(f.name)).map((f) => ({
    name: f.name, value: f.value, readOnly: true, isDefault: f.source === SOURCE_DEFAULT, configSource: f.source, isSensitive: false,
    synonyms: includeSynonyms ? [{ name: f.name, value: f.value, source: f.source }] : [],
    configType: CONFIG_TYPE[f.type], documentation: includeDocumentation ? f.doc : null,
  }));
  return [...settings, ...facts];
}


export const describeConfigsHandler: ApiHandler<32> = {
  apiKey: 32,
  minVersion: 1,
  maxVersion: 4,
  handle(req, ctx) {
    const { broker } = ctx;
    const results = req.resources.map((r) => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      try {
        requireConfigAccess(ctx, AclOperation.DESCRIBE_CONFIGS, r.resourceType, r.resourceName);
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

/** Topic configs need the operation on the topic, broker configs on the cluster (Kafka's checks). */
function requireConfigAccess(ctx: RequestContext, operation: number, resourceType: number, resourceName: string): void {
  if (resourceType === RESOURCE_TOPIC) requireTopic(ctx, operation, resourceName);
  else if (resourceType === RESOURCE_BROKER) requireCluster(ctx, operation);
}

async function alterResources(ctx: RequestContext, resources: Array<{ resourceType: number; resourceName: string }>,
  editFor: (index: number, kind: 'topic' | 'broker') => Edit, validateOnly: boolean) {
  const { broker } = ctx;
  const responses = [];
  for (const [i, r] of resources.entries()) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      requireConfigAccess(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
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
  handle(req, ctx) {
    return alterResources(ctx, req.resources, (i) => () => {
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
  handle(req, ctx) {
    const { broker } = ctx;
    return alterResources(ctx, req.resources, (i, kind) => (current) => {
      const out: Record<string, string> = { ...current };
      for (const c of req.resources[i]!.configs) {
        const setting = kind === 'topic' ? topicSetting(c.name) : brokerSetting(c.name);
        // A broker name Brook does not know as a setting may be a read-only fact (log.dirs): validateDynamicBrokerConfig answers it.
        if (!setting && kind === 'topic') throw new KafkaError('INVALID_CONFIG', `Unknown topic config name: ${c.name}`);
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
            if (setting?.type !== 'list') throw new KafkaError('INVALID_CONFIG', `${c.name} is not a list; APPEND and SUBTRACT apply to lists only`);
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
