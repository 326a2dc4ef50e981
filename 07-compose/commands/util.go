package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	lesson04 "minibox/04-storage/commands"
)

var timeZero time.Time

// humanAgo is docker's "3 minutes ago".
func humanAgo(t time.Time) string { return lesson04.HumanDuration(time.Since(t)) + " ago" }

// humanSize is docker's decimal size with 3 significant digits: 0B,
// 12.3kB, 4.26MB (go-units' HumanSizeWithPrecision).
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + units[i]
}

// printJSON prints v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}
