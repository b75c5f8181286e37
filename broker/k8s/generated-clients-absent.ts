/**
 * Stands in for @kubernetes/client-node's generated API index inside a broker process
 * (./kubeconfig.ts): KubeConfig imports two names from it, for `makeApiClient` only, which Brook
 * does not call. Calling them says so instead of failing on an undefined import.
 */
function absent(): never {
  throw new Error('client-node\'s generated API clients are not loaded in a Brook broker (broker/k8s/kubeconfig.ts); use Kube from broker/k8s/client.ts');
}

export function createConfiguration(): never { return absent(); }

export class ServerConfiguration {
  constructor() { absent(); }
}
