import { describe, expect, test } from '@jest/globals';
import {
  AclOperation, authorize, authorizeAny, filterMatches, Permission, PatternType, ResourceType, validateBinding, validateFilter, type AclBinding,
} from './acls.ts';

const acl = (over: Partial<AclBinding>): AclBinding => ({
  resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*',
  operation: AclOperation.READ, permission: Permission.ALLOW, ...over,
});
const strict = { superUsers: new Set(['User:admin']), allowIfNoAcl: false };
const open = { superUsers: new Set<string>(), allowIfNoAcl: true };
const topic = (name: string) => ({ type: ResourceType.TOPIC, name });

describe('authorize (Kafka\'s StandardAuthorizer rules)', () => {
  test('a super user may do anything, with or without ACLs', () => {
    expect(authorize([], strict, 'User:admin', '10.0.0.1', AclOperation.DELETE, topic('orders'))).toBe(true);
    expect(authorize([acl({ permission: Permission.DENY, principal: 'User:*', operation: AclOperation.ALL })], strict, 'User:admin', '10.0.0.1', AclOperation.READ, topic('orders'))).toBe(true);
  });

  test('no ACL on the resource: allow.everyone.if.no.acl.found decides; any ACL on it (for anyone) ends that', () => {
    expect(authorize([], strict, 'User:bob', 'h', AclOperation.READ, topic('orders'))).toBe(false);
    expect(authorize([], open, 'User:bob', 'h', AclOperation.READ, topic('orders'))).toBe(true);
    expect(authorize([acl({})], open, 'User:bob', 'h', AclOperation.READ, topic('orders'))).toBe(false);
    expect(authorize([acl({})], open, 'User:bob', 'h', AclOperation.READ, topic('payments'))).toBe(true);
  });

  test('an ALLOW for the operation, for ALL, or for an operation implying DESCRIBE / DESCRIBE_CONFIGS', () => {
    expect(authorize([acl({})], strict, 'User:alice', 'h', AclOperation.READ, topic('orders'))).toBe(true);
    expect(authorize([acl({})], strict, 'User:alice', 'h', AclOperation.WRITE, topic('orders'))).toBe(false);
    expect(authorize([acl({})], strict, 'User:alice', 'h', AclOperation.DESCRIBE, topic('orders'))).toBe(true);
    for (const op of [AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]) {
      expect(authorize([acl({ operation: op })], strict, 'User:alice', 'h', AclOperation.DESCRIBE, topic('orders'))).toBe(true);
    }
    expect(authorize([acl({ operation: AclOperation.ALTER_CONFIGS })], strict, 'User:alice', 'h', AclOperation.DESCRIBE_CONFIGS, topic('orders'))).toBe(true);
    expect(authorize([acl({ operation: AclOperation.DESCRIBE })], strict, 'User:alice', 'h', AclOperation.READ, topic('orders'))).toBe(false);
    expect(authorize([acl({ operation: AclOperation.ALL })], strict, 'User:alice', 'h', AclOperation.ALTER_CONFIGS, topic('orders'))).toBe(true);
  });

  test('deny wins over allow, and a DENY of READ does not deny DESCRIBE', () => {
    const acls = [acl({ operation: AclOperation.ALL }), acl({ permission: Permission.DENY })];
    expect(authorize(acls, strict, 'User:alice', 'h', AclOperation.READ, topic('orders'))).toBe(false);
    expect(authorize(acls, strict, 'User:alice', 'h', AclOperation.WRITE, topic('orders'))).toBe(true);
    expect(authorize(acls, strict, 'User:alice', 'h', AclOperation.DESCRIBE, topic('orders'))).toBe(true);
    expect(authorize([acl({ operation: AclOperation.ALL }), acl({ permission: Permission.DENY, principal: 'User:*', host: '10.0.0.9' })], strict, 'User:alice', '10.0.0.9', AclOperation.READ, topic('orders'))).toBe(false);
  });

  test('patterns: LITERAL name, LITERAL wildcard, PREFIXED; principals User:* and hosts *', () => {
    expect(authorize([acl({ resourceName: '*' })], strict, 'User:alice', 'h', AclOperation.READ, topic('anything'))).toBe(true);
    expect(authorize([acl({ resourceName: 'app-', patternType: PatternType.PREFIXED })], strict, 'User:alice', 'h', AclOperation.READ, topic('app-1'))).toBe(true);
    expect(authorize([acl({ resourceName: 'app-', patternType: PatternType.PREFIXED })], strict, 'User:alice', 'h', AclOperation.READ, topic('ap'))).toBe(false);
    expect(authorize([acl({ resourceName: 'app-' })], strict, 'User:alice', 'h', AclOperation.READ, topic('app-1'))).toBe(false);
    expect(authorize([acl({ principal: 'User:*' })], strict, 'User:bob', 'h', AclOperation.READ, topic('orders'))).toBe(true);
    expect(authorize([acl({ host: '10.0.0.1' })], strict, 'User:alice', '10.0.0.2', AclOperation.READ, topic('orders'))).toBe(false);
    expect(authorize([acl({ resourceType: ResourceType.GROUP })], strict, 'User:alice', 'h', AclOperation.READ, topic('orders'))).toBe(false);
  });

  test('authorizeAny: an ALLOW on some pattern of the type, unless denied on the LITERAL wildcard', () => {
    const write = acl({ operation: AclOperation.WRITE, resourceName: 'app-', patternType: PatternType.PREFIXED });
    expect(authorizeAny([write], strict, 'User:alice', 'h', AclOperation.WRITE, ResourceType.TOPIC)).toBe(true);
    expect(authorizeAny([write], strict, 'User:bob', 'h', AclOperation.WRITE, ResourceType.TOPIC)).toBe(false);
    expect(authorizeAny([write, acl({ operation: AclOperation.WRITE, resourceName: '*', permission: Permission.DENY })], strict, 'User:alice', 'h', AclOperation.WRITE, ResourceType.TOPIC)).toBe(false);
    expect(authorizeAny([], open, 'User:bob', 'h', AclOperation.WRITE, ResourceType.TOPIC)).toBe(true);
  });
});

describe('filters and validation', () => {
  const any = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: AclOperation.ANY, permission: Permission.ANY };

  test('ANY and null match everything; MATCH finds what applies to a name', () => {
    const bindings = [acl({}), acl({ resourceName: '*' }), acl({ resourceName: 'ord', patternType: PatternType.PREFIXED }), acl({ resourceName: 'other' })];
    expect(bindings.filter((b) => filterMatches(any, b))).toHaveLength(4);
    const match = { ...any, resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.MATCH };
    expect(bindings.filter((b) => filterMatches(match, b)).map((b) => b.resourceName)).toEqual(['orders', '*', 'ord']);
    const literal = { ...any, resourceName: 'orders', patternType: PatternType.LITERAL };
    expect(bindings.filter((b) => filterMatches(literal, b)).map((b) => b.resourceName)).toEqual(['orders']);
    expect(bindings.filter((b) => filterMatches({ ...any, principal: 'User:bob' }, b))).toHaveLength(0);
  });

  test('malformed bindings and filters are INVALID_REQUEST with the reason', () => {
    expect(() => validateBinding(acl({ resourceType: ResourceType.ANY }))).toThrow(/resource type/);
    expect(() => validateBinding(acl({ patternType: PatternType.MATCH }))).toThrow(/LITERAL or PREFIXED/);
    expect(() => validateBinding(acl({ operation: AclOperation.ANY }))).toThrow(/operation/);
    expect(() => validateBinding(acl({ principal: 'alice' }))).toThrow(/principal/);
    expect(() => validateBinding(acl({ resourceType: ResourceType.CLUSTER, resourceName: 'x' }))).toThrow(/kafka-cluster/);
    expect(() => validateBinding(acl({ resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', operation: AclOperation.ALTER }))).not.toThrow();
    expect(() => validateFilter({ ...any, operation: AclOperation.UNKNOWN })).toThrow(/UNKNOWN/);
    expect(() => validateFilter({ ...any, permission: 42 })).toThrow(/unknown code/);
  });
});
