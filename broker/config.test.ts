import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { BrokerSettings, ConfigError, validateTopicConfigs } from './config.ts';
import { ErrorCode } from './errors.ts';

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
