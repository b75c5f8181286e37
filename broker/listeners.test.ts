import { describe, expect, test } from '@jest/globals';
import type { NetworkInterfaceInfo } from 'node:os';
import { ConfigError } from './config.ts';
import { defaultAdvertisedHost, resolveListeners } from './listeners.ts';
import { decodeListeners, encodeListeners } from './metadata/index.ts';

const host = () => 'this-host';

function iface(address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo {
  return { address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) } as NetworkInterfaceInfo;
}

describe('resolveListeners', () => {
  test('Kafka settings: several listeners, each with its advertised address and protocol; names are case-insensitive', () => {
    const plan = resolveListeners({
      listeners: 'internal://0.0.0.0:9092,EXTERNAL://:9094',
      advertisedListeners: 'INTERNAL://demo-0.demo-brokers.kafka.svc:9092,external://203.0.113.7:31000',
      protocolMap: 'INTERNAL:PLAINTEXT,EXTERNAL:plaintext',
      interBrokerListenerName: 'internal',
    }, {}, host);
    expect(plan.interBroker).toBe('INTERNAL');
    expect(plan.listeners).toEqual([
      { name: 'INTERNAL', protocol: 'PLAINTEXT', bind: { host: '0.0.0.0', port: 9092 }, advertised: { host: 'demo-0.demo-brokers.kafka.svc', port: 9092 } },
      { name: 'EXTERNAL', protocol: 'PLAINTEXT', bind: { host: '', port: 9094 }, advertised: { host: '203.0.113.7', port: 31000 } },
    ]);
  });

  test('a listener left out of advertised.listeners advertises its bind address, a wildcard replaced by the default host', () => {
    const plan = resolveListeners({ listeners: 'PLAINTEXT://0.0.0.0:9092,LOCAL://127.0.0.1:0', protocolMap: 'PLAINTEXT:PLAINTEXT,LOCAL:PLAINTEXT' }, {}, host);
    expect(plan.listeners.map((l) => l.advertised)).toEqual([{ host: 'this-host', port: 9092 }, { host: '127.0.0.1', port: 0 }]);
    expect(plan.interBroker).toBe('PLAINTEXT'); // the listener named PLAINTEXT, else the first
    expect(resolveListeners({ listeners: 'A://h:1,B://h:2', protocolMap: 'A:PLAINTEXT,B:PLAINTEXT' }, {}, host).interBroker).toBe('A');
  });

  test('the --listen/--advertised-listener shorthand is one PLAINTEXT listener; the default binds 0.0.0.0:9092 and advertises this host', () => {
    expect(resolveListeners({}, {}, host).listeners).toEqual([
      { name: 'PLAINTEXT', protocol: 'PLAINTEXT', bind: { host: '0.0.0.0', port: 9092 }, advertised: { host: 'this-host', port: 9092 } },
    ]);
    const plan = resolveListeners({}, { listen: { host: '127.0.0.1', port: 0 }, advertised: { host: 'broker.example', port: 19092 } }, host);
    expect(plan.listeners[0]!.bind).toEqual({ host: '127.0.0.1', port: 0 });
    expect(plan.listeners[0]!.advertised).toEqual({ host: 'broker.example', port: 19092 });
  });

  test('SSL, SASL_PLAINTEXT and SASL_SSL listeners are planned with their protocol (by name, or through the map)', () => {
    for (const protocol of ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL']) {
      expect(resolveListeners({ listeners: `${protocol}://0.0.0.0:9093` }, {}, host).listeners[0]!.protocol).toBe(protocol);
      expect(resolveListeners({ listeners: 'EXT://0.0.0.0:9093', protocolMap: `EXT:${protocol}` }, {}, host).listeners[0]!.protocol).toBe(protocol);
    }
  });

  test('bad settings are ConfigErrors that say what to fix', () => {
    const cases: Array<[Parameters<typeof resolveListeners>[0], RegExp]> = [
      [{ listeners: 'INTERNAL://0.0.0.0:9092' }, /listener INTERNAL has no security protocol: add INTERNAL:PLAINTEXT to listener.security.protocol.map/],
      [{ listeners: '0.0.0.0:9092' }, /not NAME:\/\/HOST:PORT/],
      [{ listeners: 'PLAINTEXT://0.0.0.0:99999' }, /above 65535/],
      [{ listeners: 'PLAINTEXT://a:1,plaintext://b:2' }, /PLAINTEXT appears twice/],
      [{ listeners: 'A://0.0.0.0:9092,B://10.0.0.1:9092', protocolMap: 'A:PLAINTEXT,B:PLAINTEXT' }, /A and B both bind port 9092/],
      [{ listeners: 'PLAINTEXT://:9092', advertisedListeners: 'OTHER://h:1' }, /OTHER, which is not in listeners/],
      [{ listeners: 'PLAINTEXT://:9092', advertisedListeners: 'PLAINTEXT://0.0.0.0:9092' }, /advertises 0.0.0.0, which no client can connect to/],
      [{ listeners: 'PLAINTEXT://:9092', interBrokerListenerName: 'REPLICATION' }, /inter.broker.listener.name REPLICATION is not in listeners/],
      [{ listeners: 'PLAINTEXT://:9092', protocolMap: 'PLAINTEXT:TLS' }, /unknown security protocol 'TLS'/],
      [{ advertisedListeners: 'PLAINTEXT://h:1' }, /advertised.listeners needs listeners/],
    ];
    for (const [settings, message] of cases) expect(() => resolveListeners(settings, {}, host)).toThrow(message);
    expect(() => resolveListeners({ listeners: 'PLAINTEXT://:9092' }, { listen: { host: '0.0.0.0', port: 1 } }, host)).toThrow(/either --listen\/--advertised-listener or the listeners setting/);
    // two listeners may share port 0 (each gets a free port)
    expect(() => resolveListeners({ listeners: 'A://127.0.0.1:0,B://127.0.0.1:0', protocolMap: 'A:PLAINTEXT,B:PLAINTEXT' }, {}, host)).not.toThrow();
  });

  test('registrations carry listeners in Kafka\'s advertised.listeners form, IPv6 hosts bracketed', () => {
    const listeners = [{ name: 'INTERNAL', host: 'demo-0.demo-brokers.kafka.svc', port: 9092 }, { name: 'EXTERNAL', host: 'fd00::7', port: 31000 }];
    expect(encodeListeners(listeners)).toBe('INTERNAL://demo-0.demo-brokers.kafka.svc:9092,EXTERNAL://[fd00::7]:31000');
    expect(decodeListeners(encodeListeners(listeners))).toEqual(listeners);
    expect(decodeListeners(undefined)).toBeUndefined();
    expect(decodeListeners('garbage')).toBeUndefined();
  });
});

describe('defaultAdvertisedHost (a plain `docker run` must not advertise 127.0.0.1)', () => {
  test('the first non-loopback IPv4 address', () => {
    const interfaces = { lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)], eth0: [iface('fe80::1', 'IPv6'), iface('172.17.0.2', 'IPv4')] };
    expect(defaultAdvertisedHost(interfaces, 'a1b2c3')).toBe('172.17.0.2');
  });

  test('else a global IPv6 address (never link-local), else the host name, else 127.0.0.1', () => {
    expect(defaultAdvertisedHost({ lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('fe80::1', 'IPv6'), iface('fd00::2', 'IPv6')] }, 'h')).toBe('fd00::2');
    expect(defaultAdvertisedHost({ lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('fe80::1', 'IPv6')] }, 'broker-host')).toBe('broker-host');
    expect(defaultAdvertisedHost({ lo: [iface('127.0.0.1', 'IPv4', true)] }, 'localhost')).toBe('127.0.0.1');
  });

  test('on this machine: not loopback', () => {
    // The test machine has a non-loopback interface (eth0); the real call must find it.
    expect(defaultAdvertisedHost()).not.toMatch(/^(127\.|::1$|localhost$)/);
  });
});
