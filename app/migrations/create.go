package migrations

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

var validName = regexp.MustCompile(`^[a-z0-9_]+$`)

// Create writes an empty transactional up/down pair named name into dir,
// the source folder of this package, and returns the paths written.
func Create(dir, name string, now time.Time) ([]string, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("migration name %q: use lower-case letters, digits and underscores", name)
	}
	base := now.UTC().Format("20060102150405") + "_" + name
	var paths []string
	for _, direction := range []string{"up", "down"} {
		p := filepath.Join(dir, base+".tx."+direction+".sql")
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return paths, fmt.Errorf("create migration: %w", err)
		}
		_, err = fmt.Fprintf(f, "-- %s: %s (runs in one transaction)\n", name, direction)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("create migration: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
