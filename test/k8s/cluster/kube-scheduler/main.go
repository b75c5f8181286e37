// kube-scheduler for Brook's single-node test cluster (test/cluster): the same main as
// k8s.io/kubernetes/cmd/kube-scheduler, built from the Go module proxy by test/k8s/build.mjs together
// with the other node and control-plane binaries, in one `go build`.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // for client metric registration
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	command := app.NewSchedulerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
