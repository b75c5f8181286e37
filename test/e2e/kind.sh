#!/usr/bin/env bash
# The e2e suite (test/e2e/*.e2e.ts) on a kind cluster, for hosts with Docker (a laptop, a CI runner):
# creates the kind cluster (or reuses it), builds the Brook image from the Dockerfile and a kcat image
# (the suite's client in pods and the chart's `helm test`) with `docker build`, `kind load`s both, and
# runs the suite with KUBECONFIG, BROOK_IMAGE and BROOK_KCAT_IMAGE set. Arguments go to jest, e.g.
#   test/e2e/kind.sh test/e2e/brook.e2e.ts
#
# Needs: docker, kind, helm 3 (or HELM=/path/to/helm; without either, it builds helm with Go:
# node test/helm/build.mjs), kubectl (or KUBECTL=...; within one minor of the kind node), kcat on the
# host (the external-listener test produces from the host through a NodePort on the kind node's
# address: reachable from the host on Linux, over the docker network; not on Docker Desktop), Debian's
# or Ubuntu's prometheus (/usr/bin/prometheus, or PROMETHEUS=...) for test/e2e/prometheus.e2e.ts,
# and `npm ci` done. KIND_CLUSTER (default brook-e2e) names the cluster; KEEP_KIND_CLUSTER=1 keeps it.
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster=${KIND_CLUSTER:-brook-e2e}
tag="$(node -p 'require("./package.json").version')-$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)"
export BROOK_IMAGE="brook.dev/brook:$tag"
export BROOK_KCAT_IMAGE="brook.dev/kcat:$tag"

for tool in docker kind; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is not installed" >&2; exit 1; }
done
# The suite's kubectl: the host's (kind's node is whatever version this kind release makes).
export KUBECTL="${KUBECTL:-$(command -v kubectl)}"
if [ -z "${HELM:-}" ]; then
  if command -v helm >/dev/null; then export HELM="$(command -v helm)"; else node test/helm/build.mjs; fi
fi

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 180s
fi
if [ "${KEEP_KIND_CLUSTER:-0}" != 1 ]; then
  trap 'kind delete cluster --name "$cluster"' EXIT
fi
export KUBECONFIG="$PWD/.cache/kind-$cluster.kubeconfig"
mkdir -p .cache
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"

docker build -t "$BROOK_IMAGE" .
# The client image: kcat and the shell tools the suite's pods and the chart's `helm test` run.
docker build -t "$BROOK_KCAT_IMAGE" - <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends kcat && rm -rf /var/lib/apt/lists/*
USER 65534
ENTRYPOINT ["/usr/bin/kcat"]
DOCKERFILE
kind load docker-image --name "$cluster" "$BROOK_IMAGE" "$BROOK_KCAT_IMAGE"

npm run e2e -- "$@"
