package job_test

import (
	"fmt"

	"github.com/amkeeper/amkeeper/job"
)

func ExampleParseSpec() {
	spec, err := job.ParseSpec([]byte(`
name: HA JobManager Demo
checkpointInterval: 5 s
pipeline:
  - sequence: {rate: 10/s}
  - countWindowAll: {size: 100}
  - file: {path: counts}
`), "demo.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Name, spec.Parallelism, spec.CheckpointInterval, len(spec.Pipeline))

	_, err = job.ParseSpec([]byte(`
name: broken
pipeline:
  - sequence: {}
  - countWindowAll: {size: -5}
  - file: {path: counts}
`), "broken.yaml")
	fmt.Println(err)
	// Output:
	// HA JobManager Demo 1 5s 3
	// broken.yaml:5: pipeline[1].countWindowAll.size: -5: want the number of records per window, ≥ 1
}

func ExampleParsePart() {
	p, ok := job.ParsePart("output/counts/part-0123456789abcdef0123456789abcdef-00002-0000000000000000017")
	fmt.Println(ok, p.Job, p.Subtask, p.Checkpoint)
	p, ok = job.ParsePart("output/counts/_pending/part-00002-0000000000000000017") // old format: no job
	fmt.Printf("%v %q %d %d\n", ok, p.Job, p.Subtask, p.Checkpoint)
	_, ok = job.ParsePart("output/counts/part-2-17")
	fmt.Println(ok)
	// Output:
	// true 0123456789abcdef0123456789abcdef 2 17
	// true "" 2 17
	// false
}
