// Command testfailures prints, from Ginkgo JSON reports (--json-report),
// one line for each spec that did not pass: its file:line, its suite, its
// full text, then where it failed and the failure's first line. make test
// prints this last, after its timing table, so the last screen says what
// failed. With -summary it first prints one line: each suite that ran,
// passed or failed, and its time (make watch, after every run).
//
//	go -C devtools run ./testfailures -root /src reports/suites/*.json
//	go -C devtools run ./testfailures -root /src -summary reports/watch/report.json
//
// It decodes the few fields it prints rather than importing Ginkgo's types:
// the tooling module stays free of the service's test dependencies.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type location struct {
	FileName   string
	LineNumber int
}

type report struct {
	SuitePath        string
	SuiteDescription string
	SuiteSucceeded   bool
	RunTime          time.Duration
	SpecReports      []struct {
		ContainerHierarchyTexts []string
		LeafNodeType            string
		LeafNodeText            string
		LeafNodeLocation        location
		State                   string
		Failure                 struct {
			Message  string
			Location location
		}
	}
}

// Spec states that fail a run (types.SpecState's JSON names).
var failed = map[string]bool{
	"failed": true, "panicked": true, "timedout": true, "interrupted": true, "aborted": true,
}

func main() {
	root := flag.String("root", ".", "print file names relative to this directory")
	summary := flag.Bool("summary", false, "first print one line: each suite, passed or failed, and its time")
	flag.Parse()
	if err := run(os.Stdout, *root, *summary, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "testfailures:", err)
		os.Exit(1)
	}
}

// run prints the failed specs of every report file.
func run(w io.Writer, root string, summary bool, files []string) error {
	rel := func(loc location) string {
		name := loc.FileName
		if r, err := filepath.Rel(root, name); err == nil && !strings.HasPrefix(r, "..") {
			name = r
		}
		return fmt.Sprintf("%s:%d", name, loc.LineNumber)
	}
	var reports []report
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var rs []report
		if err := json.Unmarshal(data, &rs); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		reports = append(reports, rs...)
	}
	if summary {
		var suites []string
		for _, r := range reports {
			suite, _ := filepath.Rel(root, r.SuitePath)
			state := "passed"
			if !r.SuiteSucceeded {
				state = "FAILED"
			}
			suites = append(suites, fmt.Sprintf("%s %s %.1f s", suite, state, r.RunTime.Seconds()))
		}
		fmt.Fprintln(w, strings.Join(suites, ", "))
	}
	for _, r := range reports {
		suite, _ := filepath.Rel(root, r.SuitePath)
		for _, s := range r.SpecReports {
			if !failed[s.State] {
				continue
			}
			text := strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " ")
			if s.LeafNodeType != "It" && s.LeafNodeType != "" {
				text = strings.TrimSpace("[" + s.LeafNodeType + "] " + text)
			}
			fmt.Fprintf(w, "  %s [%s] %s  %s\n", rel(s.LeafNodeLocation), s.State, suite, text)
			msg, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
			if s.Failure.Location.FileName != "" {
				fmt.Fprintf(w, "      at %s: %s\n", rel(s.Failure.Location), msg)
			}
		}
	}
	return nil
}
