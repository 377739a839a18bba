package pipeline

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// removeTempFiles deletes the half-written files a killed process left in a run directory.
// Every staged file is written as ".<name>.tmp-<random>" and renamed when whole, so such a
// file is never read; a resumed run (which holds its clients' locks) removes them.
func removeTempFiles(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			_ = os.Remove(p)
		}
		return nil
	})
}
