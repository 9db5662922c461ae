// Command vcsim serves VMware's vCenter simulator (govmomi 0.24 simulator package) for the
// KStack Naguan tests and demo. It is a trimmed-down version of govmomi's own vcsim command.
//
// Build with tools/vcsim/build.sh (GO111MODULE=off GOPATH=/usr/share/gocode go build).
//
// Output contract, on stdout, once the server accepts connections:
//
//	URL=http://127.0.0.1:PORT/sdk            (first line; https with -tls)
//	DATASTORE_DIR=/tmp/govcsim-DC0-LocalDS_0-123   (first datastore's local folder, if any)
//	DATASTORE=DC0/LocalDS_0=/tmp/govcsim-...  (one line per datastore: datacenter/name=folder)
//	VMS=4                                    (number of VirtualMachine objects in the model)
//	READY
//
// The process then serves until SIGINT or SIGTERM and removes the datastore folders on exit.
// Datastore folders are created under $TMPDIR; point it at a tmpfs for large models.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/vmware/govmomi/lookup/simulator"
	_ "github.com/vmware/govmomi/pbm/simulator"
	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/sts/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// parseMethodDelay parses "Method:ms,Method2:ms" into DelayConfig.MethodDelay.
func parseMethodDelay(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	out := make(map[string]int)
	for _, item := range strings.Split(s, ",") {
		parts := strings.SplitN(strings.TrimSpace(item), ":", 2)
		if len(parts) != 2 {
			return nil, fmt.Errorf("invalid -method-delay item %q (want Method:ms)", item)
		}
		ms, err := strconv.Atoi(parts[1])
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("invalid delay in -method-delay item %q", item)
		}
		out[parts[0]] = ms
	}
	return out, nil
}

// datastoreDirs maps "datacenter/datastore" to the datastore's local folder.
func datastoreDirs() map[string]string {
	dirs := make(map[string]string)
	for _, e := range simulator.Map.All("Datastore") {
		ds, ok := e.(*simulator.Datastore)
		if !ok {
			continue
		}
		dir := ds.Summary.Url
		if info, ok := ds.Info.(*types.LocalDatastoreInfo); ok && info.Path != "" {
			dir = info.Path
		}
		if dir == "" {
			continue
		}
		dc := "?"
		if parent := datacenterName(ds); parent != "" {
			dc = parent
		}
		dirs[dc+"/"+ds.Name] = dir
	}
	return dirs
}

// datacenterName walks up the Parent chain of a datastore to its Datacenter.
func datacenterName(ds *simulator.Datastore) string {
	ref := ds.Parent
	for ref != nil {
		obj := simulator.Map.Get(*ref)
		if obj == nil {
			return ""
		}
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc.Name
		}
		entity, ok := obj.(mo.Entity)
		if !ok {
			return ""
		}
		ref = entity.Entity().Parent
	}
	return ""
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("vcsim: ")
	os.Exit(run())
}

// run builds the model, serves it until a signal arrives and returns the exit status.
// Errors after the model exists return instead of exiting so the deferred cleanup runs.
func run() int {
	listen := flag.String("listen", "127.0.0.1:0", "listen address host:port (port 0 = a free port)")
	useTLS := flag.Bool("tls", false, "serve https with a self-signed certificate (default plain http)")
	username := flag.String("username", "", "only accept this user name (with -password); "+
		"default: any non-empty user/password")
	password := flag.String("password", "", "only accept this password (with -username); "+
		"default: $VCSIM_PASSWORD, which keeps it out of the process list")

	model := simulator.VPX()
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "number of datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "number of clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "number of hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host,
		"number of standalone hosts per datacenter")
	flag.IntVar(&model.Machine, "vm", model.Machine,
		"number of VMs per standalone host, per cluster root resource pool and per vApp")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "number of local datastores per datacenter")
	flag.IntVar(&model.Portgroup, "pg", model.Portgroup,
		"number of DV port groups per datacenter (one DVS per datacenter when > 0)")
	flag.IntVar(&model.Pool, "pool", model.Pool,
		"number of child resource pools per cluster (they hold no VMs)")
	flag.IntVar(&model.App, "app", model.App, "number of vApps per cluster")
	flag.IntVar(&model.Folder, "folder", model.Folder,
		"number of datacenters to place inside a folder (with per-datacenter sub-folders)")
	flag.BoolVar(&model.Autostart, "autostart", model.Autostart, "power on the model's VMs")
	sessionTimeout := flag.Duration("session-timeout", 0,
		"expire sessions idle for longer than this (e.g. 30s; 0 = never)")
	delay := flag.Int("delay", 0, "delay every SOAP call by this many milliseconds")
	methodDelay := flag.String("method-delay", "",
		"per-method delays in ms, e.g. PowerOnVM_Task:500,RetrievePropertiesEx:20")
	delayJitter := flag.Float64("delay-jitter", 0,
		"delay jitter as a coefficient of variation (stddev/mean); 0 = none")
	trace := flag.Bool("trace", false, "trace SOAP requests and responses to stderr")
	flag.Parse()

	if flag.NArg() > 0 {
		log.Printf("unexpected arguments: %v", flag.Args())
		return 2
	}
	if *password == "" {
		*password = os.Getenv("VCSIM_PASSWORD")
	}
	if (*username == "") != (*password == "") {
		log.Print("-username and -password must be given together")
		return 2
	}
	if model.Machine > 0 && model.Datastore < 1 && (model.Host > 0 || model.Cluster > 0) {
		log.Print("-vm > 0 needs -ds >= 1 (model VMs live on LocalDS_0)")
		return 2
	}
	md, err := parseMethodDelay(*methodDelay)
	if err != nil {
		log.Print(err)
		return 2
	}
	model.DelayConfig = simulator.DelayConfig{
		Delay:       *delay,
		MethodDelay: md,
		DelayJitter: *delayJitter,
	}
	simulator.SessionIdleTimeout = *sessionTimeout
	simulator.Trace = *trace

	started := time.Now()
	defer model.Remove()
	if err = model.Create(); err != nil {
		log.Printf("creating model: %s", err)
		return 1
	}

	u := &url.URL{Host: *listen}
	if *username != "" {
		u.User = url.UserPassword(*username, *password)
	}
	model.Service.Listen = u
	model.Service.RegisterEndpoints = true
	if *useTLS {
		model.Service.TLS = new(tls.Config)
	}

	// NewServer panics (httptest style) when the address cannot be bound; turn it into an error.
	server, err := newServer(model.Service)
	if err != nil {
		log.Printf("listening on %s: %s", *listen, err)
		return 1
	}
	defer server.Close()

	public := *server.URL
	public.User = nil

	vms := len(simulator.Map.All("VirtualMachine"))
	dirs := datastoreDirs()
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	sort.Strings(names)

	var out strings.Builder
	fmt.Fprintf(&out, "URL=%s\n", public.String())
	if dir, ok := dirs["DC0/LocalDS_0"]; ok {
		fmt.Fprintf(&out, "DATASTORE_DIR=%s\n", dir)
	} else if len(names) > 0 {
		fmt.Fprintf(&out, "DATASTORE_DIR=%s\n", dirs[names[0]])
	}
	for _, name := range names {
		fmt.Fprintf(&out, "DATASTORE=%s=%s\n", name, dirs[name])
	}
	fmt.Fprintf(&out, "VMS=%d\n", vms)
	out.WriteString("READY\n")
	if _, err = os.Stdout.WriteString(out.String()); err != nil {
		log.Printf("writing to stdout: %s", err)
		return 1
	}
	_ = os.Stdout.Sync()
	log.Printf("serving %s (%d VMs, model built in %s)", public.String(), vms,
		time.Since(started).Round(time.Millisecond))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Printf("%s received, stopping", s)
	return 0
}

// newServer starts serving; simulator.NewServer panics (httptest style) when the address
// cannot be bound, which is turned into an error here.
func newServer(svc *simulator.Service) (server *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return svc.NewServer(), nil
}
