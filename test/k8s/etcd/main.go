// etcd for Brook's Kubernetes test tier, built from the Go module proxy by test/k8s/build.mjs
// (`go install go.etcd.io/etcd/v3` refuses a module with replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
