// CoreDNS for Brook's single-node test cluster (test/cluster): cluster DNS for Services and
// StatefulSet pods (broker-0.<headless>.<ns>.svc.cluster.local), built from the Go module proxy by
// test/k8s/build.mjs. Only the plugins the cluster's Corefile uses are compiled in; there is no
// forward plugin, so names outside the cluster get no answer from an upstream.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
