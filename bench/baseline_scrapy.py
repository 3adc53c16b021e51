#!/usr/bin/python3
"""baseline_scrapy.py -- the same two-level crawl as a stock Scrapy spider, for the
benchmark: start at the first list page, which gives `count`; from it, request every
other list page (or, with --page-number N, start from all N list pages) and, from
each list page, every detail page; each detail page yields
the book as an item into a JSON Lines feed (--out FILE).

Settings: CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = --concurrency, no
robots.txt, no AutoThrottle, no cookies, no download delay, LOG_LEVEL WARNING,
Scrapy's own retry middleware (2 retries on 5xx/429/timeouts) and duplicate filter.
Everything else is Scrapy's default (Twisted's default reactor, HTTP/1.1 keep-alive,
CONCURRENT_ITEMS 100). Note: Scrapy 2.8 starts CONCURRENT_ITEMS cooperative workers for
every response, however few items it yields (scrapy/scrapy#5182), which costs about as much
CPU as the rest of the crawl here; --concurrent-items 1 shows Scrapy without that cost.

Prints one JSON line at the end: {"pages": ..., "elapsed_s": ..., ...}.
"""
import argparse
import json
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess

PAGE_SIZE = 18


class BookSpider(scrapy.Spider):
    name = 'books'

    def __init__(self, base, page_number=0, **kw):
        super().__init__(**kw)
        self.base = base.rstrip('/')
        self.page_number = page_number

    def list_url(self, offset):
        return '%s/api/book/?limit=%d&offset=%d' % (self.base, PAGE_SIZE, offset)

    def start_requests(self):
        if self.page_number:   # every list page known in advance (start_urls)
            for page in range(self.page_number):
                yield scrapy.Request(self.list_url(page * PAGE_SIZE), callback=self.parse_list)
        else:
            yield scrapy.Request(self.list_url(0), callback=self.parse_first)

    def parse_first(self, response):
        data = json.loads(response.body)
        for off in range(PAGE_SIZE, int(data['count']), PAGE_SIZE):
            yield scrapy.Request(self.list_url(off), callback=self.parse_list)
        yield from self.details(data)

    def parse_list(self, response):
        yield from self.details(json.loads(response.body))

    def details(self, data):
        for item in data.get('results') or []:
            yield scrapy.Request('%s/api/book/%s' % (self.base, item['id']), callback=self.parse_detail)

    def parse_detail(self, response):
        try:
            yield json.loads(response.body)
        except ValueError:
            self.crawler.stats.inc_value('baseline/not_json')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--base', required=True, help='site root, e.g. http://127.0.0.1:8000')
    p.add_argument('--concurrency', type=int, default=16)
    p.add_argument('--out', required=True, metavar='FILE', help='JSON Lines feed')
    p.add_argument('--concurrent-items', type=int, default=100,
                   help="CONCURRENT_ITEMS (default 100, Scrapy's own; see bench/README.md)")
    p.add_argument('--page-number', type=int, default=0,
                   help='list pages known in advance: start from all of them (default: from the first)')
    p.add_argument('--log-level', default='WARNING')
    a = p.parse_args()
    settings = {
        'CONCURRENT_REQUESTS': a.concurrency,
        'CONCURRENT_REQUESTS_PER_DOMAIN': a.concurrency,
        'CONCURRENT_REQUESTS_PER_IP': 0,
        'DOWNLOAD_DELAY': 0,
        'ROBOTSTXT_OBEY': False,
        'AUTOTHROTTLE_ENABLED': False,
        'COOKIES_ENABLED': False,
        'TELNETCONSOLE_ENABLED': False,
        'LOG_LEVEL': a.log_level.upper(),
        'FEEDS': {a.out: {'format': 'jsonlines', 'encoding': 'utf8', 'overwrite': True}},
        'REQUEST_FINGERPRINTER_IMPLEMENTATION': '2.7',
        'CONCURRENT_ITEMS': a.concurrent_items,
    }
    t0 = time.monotonic()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BookSpider)
    process.crawl(crawler, base=a.base, page_number=a.page_number)
    process.start()
    elapsed = time.monotonic() - t0
    st = crawler.stats.get_stats()
    pages = st.get('downloader/response_count', 0)
    print(json.dumps({'contender': 'scrapy', 'pages': pages, 'elapsed_s': round(elapsed, 3),
                      'pages_per_s': round(pages / elapsed, 1) if elapsed > 0 else None,
                      'saved': st.get('item_scraped_count', 0),
                      'retries': st.get('retry/count', 0),
                      'failed': st.get('retry/max_reached', 0) + st.get('baseline/not_json', 0),
                      'finish_reason': st.get('finish_reason')}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
