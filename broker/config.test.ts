import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { BrokerSettings, ConfigError, settingsReference, topicSettings, validateTopicConfigs } from './config.ts';
import { ErrorCode } from './errors.ts';
import { topicLogConfig } from './log/index.ts';

describe('BrokerSettings', () => {
  test('defaults, explicit values and hour aliases', () => {
    const s = new BrokerSettings({ 'log.retention.hours': '2', 'num.partitions': '3' });
    expect(s.get('log.retention.ms')).toBe('7200000');
    expect(s.int('num.partitions')).toBe(3);
    expect(s.bool('auto.create.topics.enable')).toBe(true); // Kafka's default
    expect(s.isExplicit('num.partitions')).toBe(true);
    expect(s.isExplicit('message.max.bytes')).toBe(false);
  });

  test('a topic inherits broker defaults unless it overrides them', () => {
    const s = new BrokerSettings({ 'log.segment.bytes': '1048576' });
    const c = s.topicConfigs({ 'retention.ms': '1000' });
    expect(c['segment.bytes']).toBe('1048576');
    expect(c['retention.ms']).toBe('1000');
    expect(c['cleanup.policy']).toBe('delete');
  });

  test('a topic\'s LogConfig is computed once per set of overrides, and again once dynamic broker configs change the defaults', () => {
    const s = new BrokerSettings({ 'log.segment.bytes': '1048576' });
    const a = topicLogConfig(s, {});
    expect(topicLogConfig(s, {})).toBe(a);
    expect(a.logConfig.segmentBytes).toBe(1048576);
    expect(a.logConfig.retentionMs).toBe(604_800_000);
    const own = topicLogConfig(s, { 'retention.ms': '1000' });
    expect(own.logConfig.retentionMs).toBe(1000);
    expect(own.effective['segment.bytes']).toBe('1048576');
    expect(() => topicLogConfig(s, { 'retention.ms': 'soon' })).toThrow(/retention.ms=soon/);
    expect(() => topicLogConfig(s, { 'retention.ms': 'soon' })).toThrow(/retention.ms=soon/); // a failure is not remembered as a value
    s.setDynamic({ 'log.retention.ms': '5000' }, {});
    const after = topicLogConfig(s, {});
    expect(after).not.toBe(a);
    expect(after.logConfig.retentionMs).toBe(5000);
    expect(s.topicConfigs({})['retention.ms']).toBe('5000');
    expect(topicLogConfig(s, { 'retention.ms': '1000' }).logConfig.retentionMs).toBe(1000);
    expect(Object.isFrozen(after.effective)).toBe(true);
  });

  test('unknown names and bad values are clear errors', () => {
    expect(() => new BrokerSettings({ 'no.such.thing': '1' })).toThrow(ConfigError);
    expect(() => new BrokerSettings({ 'num.partitions': 'three' })).toThrow(/Invalid value three for configuration num.partitions: Not a number of type INT/);
    expect(() => new BrokerSettings({ 'auto.create.topics.enable': 'yes' })).toThrow(/Expected value to be either true or false/);
  });
});

describe('validateTopicConfigs', () => {
  test('rejects unknown names and invalid values with INVALID_CONFIG', () => {
    for (const bad of [{ 'bogus': '1' }, { 'retention.ms': 'soon' }, { 'message.timestamp.type': 'Now' }] as Array<Record<string, string>>) {
      expect(() => validateTopicConfigs(bad)).toThrow(expect.objectContaining({ errorCode: ErrorCode.INVALID_CONFIG }));
    }
    expect(() => validateTopicConfigs({ 'retention.ms': '-1', 'cleanup.policy': 'compact,delete' })).not.toThrow();
  });
});

describe('the Kafka 4.4 topic config catalogue', () => {
  test('accepts every Kafka 4.4 topic config name at a valid value', () => {
    const valid: Record<string, string> = {
      'cleanup.policy': 'compact,delete', 'compression.type': 'zstd', 'compression.gzip.level': '-1', 'compression.lz4.level': '17',
      'compression.zstd.level': '-131072', 'delete.retention.ms': '0', 'file.delete.delay.ms': '0', 'flush.messages': '1', 'flush.ms': '0',
      'follower.replication.throttled.replicas': '0:1,1:2', 'index.interval.bytes': '0', 'leader.replication.throttled.replicas': '*',
      'local.retention.bytes': '-2', 'local.retention.ms': '-2', 'max.compaction.lag.ms': '1', 'max.message.bytes': '0',
      'message.timestamp.after.max.ms': '0', 'message.timestamp.before.max.ms': '0', 'message.timestamp.type': 'LogAppendTime',
      'min.cleanable.dirty.ratio': '0.01', 'min.compaction.lag.ms': '0', 'min.insync.replicas': '1', 'preallocate': 'true',
      'remote.log.copy.disable': 'false', 'remote.log.delete.on.disable': 'false', 'remote.storage.enable': 'false',
      'retention.bytes': '-1', 'retention.ms': '-1', 'segment.bytes': '1048576', 'segment.index.bytes': '4', 'segment.jitter.ms': '0',
      'segment.ms': '1', 'unclean.leader.election.enable': 'true',
      'errors.deadletterqueue.group.enable': 'true', 'max.decompressed.message.bytes': '1', 'remote.copy.lag.bytes': '-1', 'remote.copy.lag.ms': '-1',
    };
    expect(() => validateTopicConfigs(valid)).not.toThrow();
    expect(Object.keys(new BrokerSettings({}).topicConfigs({})).sort()).toEqual(Object.keys(valid).sort());
  });

  test.each([
    ['compression.gzip.level', '0', 'Value must be between 1 and 9 or -1'],
    ['compression.zstd.level', '23', 'Value must be no more than 22'],
    ['segment.index.bytes', '3', 'Value must be at least 4'],
    ['local.retention.ms', '-3', 'Value must be at least -2'],
    ['max.message.bytes', '1.5', 'Not a number of type INT'],
    ['max.decompressed.message.bytes', '0', 'Value must be at least 1'],
    ['remote.copy.lag.ms', '-2', 'Value must be at least -1'],
    ['min.cleanable.dirty.ratio', 'half', 'Not a number of type DOUBLE'],
    ['leader.replication.throttled.replicas', '0-1', 'must be the literal \'*\' or a list of replicas'],
  ])('%s=%s is INVALID_CONFIG: %s', (name, value, reason) => {
    expect(() => validateTopicConfigs({ [name]: value })).toThrow(`Invalid value ${value} for configuration ${name}: ${reason}`);
  });
});

describe('brook settings', () => {
  test('lists every topic config, the names accepted without effect and every default that differs from Kafka\'s, with reasons', () => {
    const text = settingsReference();
    for (const t of topicSettings) expect(text).toContain(`\n${t.name} (${t.type}, `);
    const noEffect = text.slice(text.indexOf('Accepted but without effect'), text.indexOf('Defaults that differ'));
    for (const name of ['remote.storage.enable', 'preallocate', 'segment.jitter.ms', 'local.retention.ms', 'compression.lz4.level']) expect(noEffect).toContain(`  ${name}: `);
    expect(noEffect).not.toContain('unclean.leader.election.enable'); // honoured: the controller elects out-of-sync replicas when a topic asks
    const differing = text.slice(text.indexOf('Defaults that differ'));
    expect(differing).toContain('broker.session.timeout.ms: 4000 (Kafka: 9000) - ');
    expect(differing).toContain('broker.heartbeat.interval.ms: 1000 (Kafka: 2000) - ');
    expect(differing).toContain('default.replication.factor under brook local');
  });
});
