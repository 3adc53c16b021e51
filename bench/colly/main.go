// main.go -- the book crawl as a stock Colly v2 crawler (Go), a contender of `make bench`.
//
// The same two-level crawl as bench/baseline_scrapy.py: start at the first list page,
// which gives `count`, and request every other list page from it (or, with
// --page-number N, start from all N list pages); from each list page, every detail
// page; each detail page's JSON is decoded and written as one line of a JSON Lines
// file (--out FILE), as the Python peers do.
//
// Settings: one async collector, a LimitRule of --concurrency requests in flight
// (Colly's Parallelism, for every domain), Colly's own duplicate filter (its in-memory
// visited set), robots.txt ignored (Colly's default), cookies off, up to 3 tries on
// 5xx, 429 and transport errors. Two changes from Go's defaults, both in Colly's
// favour: the HTTP transport keeps --concurrency idle connections per host (Go's
// default keeps 2, so at 100 in flight nearly every request would open a new
// connection; --idle-per-host 2 restores that) and the 10 s client timeout is 60 s.
//
// Prints one JSON line at the end: {"contender": "colly", "pages": ..., ...}.
// Exits 1 when a book could not be fetched or stored, 2 on bad arguments.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"
)

const pageSize = 18
const tries = 3

type listPage struct {
	Count   int `json:"count"`
	Results []struct {
		ID json.RawMessage `json:"id"`
	} `json:"results"`
}

type sink struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// put writes one JSON line; the first error is kept and reported at the end.
func (s *sink) put(doc map[string]any) {
	line, err := json.Marshal(doc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		if _, err = s.w.Write(line); err == nil {
			err = s.w.WriteByte('\n')
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
}

func main() {
	base := flag.String("base", "", "site root, e.g. http://127.0.0.1:8000 (required)")
	concurrency := flag.Int("concurrency", 16, "requests in flight (Colly's LimitRule Parallelism)")
	out := flag.String("out", "", "JSON Lines file of the books (required)")
	pageNumber := flag.Int("page-number", 0, "list pages known in advance: start from all of them (default: from the first)")
	idlePerHost := flag.Int("idle-per-host", 0, "idle connections kept per host (default: --concurrency)")
	flag.Parse()
	if *base == "" || *out == "" || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "colly-crawler: error: --base and --out are required, --concurrency >= 1")
		os.Exit(2)
	}
	root := strings.TrimRight(*base, "/")
	if *idlePerHost <= 0 {
		*idlePerHost = *concurrency
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "colly-crawler: error: %v\n", err)
		os.Exit(1)
	}
	s := &sink{w: bufio.NewWriterSize(f, 1<<16)}

	c := colly.NewCollector(colly.Async(true))
	c.DisableCookies()
	c.SetRequestTimeout(60 * time.Second)
	c.WithTransport(&http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *idlePerHost,
		MaxIdleConnsPerHost: *idlePerHost,
		IdleConnTimeout:     90 * time.Second,
	})
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: *concurrency}); err != nil {
		fmt.Fprintf(os.Stderr, "colly-crawler: error: limit rule: %v\n", err)
		os.Exit(1)
	}

	var pages, retries, failed, notFound, saved atomic.Int64
	listURL := func(off int) string {
		return fmt.Sprintf("%s/api/book/?limit=%d&offset=%d", root, pageSize, off)
	}
	visit := func(url string) {
		// Colly's duplicate filter refuses a URL seen before: not an error here.
		var seen *colly.AlreadyVisitedError
		if err := c.Visit(url); err != nil && !errors.As(err, &seen) {
			fmt.Fprintf(os.Stderr, "colly-crawler: visit %s: %v\n", url, err)
			failed.Add(1)
		}
	}
	retry := func(r *colly.Response, why string) {
		n, _ := r.Ctx.GetAny("try").(int)
		if n+1 < tries {
			r.Ctx.Put("try", n+1)
			retries.Add(1)
			time.Sleep(time.Duration(100*(n+1)) * time.Millisecond)
			if err := r.Request.Retry(); err == nil {
				return
			}
		}
		fmt.Fprintf(os.Stderr, "colly-crawler: giving up on %s: %s\n", r.Request.URL, why)
		failed.Add(1)
	}

	c.OnResponse(func(r *colly.Response) {
		pages.Add(1)
		path := r.Request.URL.Path
		if strings.HasSuffix(path, "/api/book/") { // a list page
			var lp listPage
			if err := json.Unmarshal(r.Body, &lp); err != nil {
				fmt.Fprintf(os.Stderr, "colly-crawler: list page not JSON: %s\n", r.Request.URL)
				failed.Add(1)
				return
			}
			if r.Request.URL.Query().Get("offset") == "0" && *pageNumber == 0 {
				for off := pageSize; off < lp.Count; off += pageSize {
					visit(listURL(off))
				}
			}
			for _, it := range lp.Results {
				visit(root + "/api/book/" + strings.Trim(string(it.ID), `"`))
			}
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			fmt.Fprintf(os.Stderr, "colly-crawler: not JSON: %s\n", r.Request.URL)
			failed.Add(1)
			return
		}
		s.put(doc)
		saved.Add(1)
	})
	c.OnError(func(r *colly.Response, err error) {
		if r.StatusCode != 0 {
			pages.Add(1)
		}
		switch {
		case r.StatusCode == 404:
			notFound.Add(1) // a missing book: the emulator's answer, nothing to store
		case r.StatusCode == 0 || r.StatusCode == 429 || r.StatusCode >= 500:
			retry(r, err.Error())
		default:
			fmt.Fprintf(os.Stderr, "colly-crawler: status %d for %s\n", r.StatusCode, r.Request.URL)
			failed.Add(1)
		}
	})

	t0 := time.Now()
	if *pageNumber > 0 {
		for k := 0; k < *pageNumber; k++ {
			visit(listURL(k * pageSize))
		}
	} else {
		visit(listURL(0))
	}
	c.Wait()
	elapsed := time.Since(t0).Seconds()
	if err := s.w.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	if err := f.Close(); err != nil && s.err == nil {
		s.err = err
	}
	if s.err != nil {
		fmt.Fprintf(os.Stderr, "colly-crawler: error: writing %s: %v\n", *out, s.err)
		failed.Add(1)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(pages.Load()) / elapsed
	}
	fmt.Printf("{\"contender\": \"colly\", \"pages\": %d, \"elapsed_s\": %.3f, \"pages_per_s\": %.1f, "+
		"\"saved\": %d, \"not_found\": %d, \"retries\": %d, \"failed\": %d}\n",
		pages.Load(), elapsed, rate, saved.Load(), notFound.Load(), retries.Load(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
