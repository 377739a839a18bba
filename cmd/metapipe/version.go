package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set at build time by the Makefile:
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=$(git rev-parse --short HEAD)"
//
// Without them, the build info says what it can (the module version of `go install …@v1.2.3`,
// the VCS revision when the build stamped it).
var version, commit string

// versionString is what `metapipe --version` prints after the name: the version, the commit
// and the Go version that built the binary, e.g. "v1.4.0 (commit 3fa2c1d, go1.26.8 linux/amd64)".
func versionString() string {
	v, c, goVersion := version, commit, runtime.Version()
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value[:min(12, len(s.Value))]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && c != "" && !strings.HasSuffix(c, "-dirty") {
			c += "-dirty"
		}
	}
	if v == "" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return v + " (commit " + c + ", " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
