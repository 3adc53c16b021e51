#!/usr/bin/python3
"""baseline_asyncio.py -- the original crawler of the write-up (reference/000_...txt),
written faithfully: asyncio + aiohttp, one asyncio.Semaphore(CONCURRENCY) around every
request, a two-phase crawl (phase 1: every list page; phase 2: every detail page) and
motor's update_one(..., upsert=True) per book when --mongo is given.

What differs from the write-up, and why:
- the number of list pages comes from `count` of the first list page, unless
  --page-number gives it in advance as the write-up's PAGE_NUMBER did;
- a 3-try loop on 5xx/429/connection errors, so a run against a clean emulator ends
  with every book (the write-up logged the error and moved on);
- non-200 answers (404 of "missing" books) and bodies that are not JSON are not saved
  (the write-up would have upserted {"detail": "Not found."} under id None);
- --out FILE appends one JSON line per book instead of MongoDB, for the JSONL race;
- the aiohttp connection pool holds --connector-limit connections (default: as many
  as --concurrency). The write-up used a bare ClientSession(), whose pool holds 100:
  at a concurrency above 100 that pool, not the Semaphore, would cap the crawl.
  `--connector-limit 100` gives the write-up's exact behaviour;
- logging per request is at DEBUG (the write-up logged every URL at INFO); the default
  level is WARNING so the benchmark measures crawling, not terminal output.

Prints one JSON line at the end: {"pages": ..., "elapsed_s": ..., ...}.
"""
import argparse
import asyncio
import json
import logging
import sys
import time

import aiohttp

PAGE_SIZE = 18
INDEX_PATH = '/api/book/?limit={limit}&offset={offset}'
DETAIL_PATH = '/api/book/{id}'
TRIES = 3

log = logging.getLogger('baseline_asyncio')


class Crawler:
    def __init__(self, args):
        self.base = args.base.rstrip('/')
        self.semaphore = asyncio.Semaphore(args.concurrency)
        self.args = args
        self.session = None
        self.collection = None
        self.out = None
        self.pages = 0        # answers received (every try counts)
        self.retries = 0
        self.failed = 0       # gave up after TRIES, or not JSON
        self.not_found = 0
        self.saved = 0

    async def scrape_api(self, url):
        """GET url under the semaphore; the parsed JSON of a 200, else None."""
        async with self.semaphore:
            for attempt in range(1, TRIES + 1):
                try:
                    log.debug('scraping %s', url)
                    async with self.session.get(url) as response:
                        self.pages += 1
                        if response.status == 200:
                            return await response.json(content_type=None)
                        if response.status == 429 or response.status >= 500:
                            self.retries += 1
                            await asyncio.sleep(0.1 * attempt)
                            continue
                        if response.status == 404:
                            self.not_found += 1
                        else:
                            log.warning('status %d for %s', response.status, url)
                        return None
                except ValueError:  # body is not JSON (json.JSONDecodeError)
                    log.warning('not JSON: %s', url)
                    self.failed += 1
                    return None
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    log.warning('error on %s (try %d): %r', url, attempt, e)
                    self.retries += 1
                    await asyncio.sleep(0.1 * attempt)
            self.failed += 1
            log.error('giving up on %s', url)
            return None

    async def scrape_index(self, offset):
        url = self.base + INDEX_PATH.format(limit=PAGE_SIZE, offset=offset)
        return await self.scrape_api(url)

    async def save_data(self, data):
        if not data:
            return
        if self.collection is not None:
            await self.collection.update_one({self.args.upsert_key: data.get('id')}, {'$set': data},
                                             upsert=True)
        else:
            self.out.write(json.dumps(data, ensure_ascii=False) + '\n')
        self.saved += 1

    async def scrape_detail(self, id):
        url = self.base + DETAIL_PATH.format(id=id)
        data = await self.scrape_api(url)
        await self.save_data(data)

    async def main(self):
        a = self.args
        if a.mongo:
            from motor.motor_asyncio import AsyncIOMotorClient
            client = AsyncIOMotorClient(a.mongo)
            self.collection = client[a.db][a.collection]
        else:
            self.out = open(a.out, 'a', encoding='utf-8')
        connector = aiohttp.TCPConnector(limit=a.connector_limit or a.concurrency)
        self.session = aiohttp.ClientSession(connector=connector)
        try:
            # Phase 1: every list page. With --page-number (the write-up's
            # PAGE_NUMBER) they all start at once; without it, the first one says
            # how many books there are.
            if a.page_number:
                tasks = [asyncio.ensure_future(self.scrape_index(page * PAGE_SIZE))
                         for page in range(a.page_number)]
                results = list(await asyncio.gather(*tasks))
                count = max((int(r['count']) for r in results if r), default=0)
            else:
                first = await self.scrape_index(0)
                if not first:
                    raise SystemExit('baseline_asyncio: error: the first list page failed')
                count = int(first['count'])
                tasks = [asyncio.ensure_future(self.scrape_index(off))
                         for off in range(PAGE_SIZE, count, PAGE_SIZE)]
                results = [first] + list(await asyncio.gather(*tasks))
            ids = []
            for index_data in results:
                if not index_data:
                    continue
                for item in index_data.get('results') or []:
                    ids.append(item.get('id'))
            # Phase 2: every detail page, each saved as soon as it arrives.
            tasks = [asyncio.ensure_future(self.scrape_detail(id)) for id in ids]
            if tasks:
                await asyncio.wait(tasks)
                for t in tasks:
                    if t.exception() is not None:
                        self.failed += 1
                        log.error('detail task failed: %r', t.exception())
            return count, len(ids)
        finally:
            await self.session.close()
            if self.out is not None:
                self.out.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--base', required=True, help='site root, e.g. http://127.0.0.1:8000')
    p.add_argument('--concurrency', type=int, default=5, help='the Semaphore (default 5, as in the write-up)')
    p.add_argument('--connector-limit', type=int, default=0,
                   help='aiohttp pool size (default: --concurrency; 100 = the write-up)')
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--mongo', metavar='URI', help='save with motor into this MongoDB')
    g.add_argument('--out', metavar='FILE', help='append JSON lines to FILE')
    p.add_argument('--db', default='books', help='database (default books)')
    p.add_argument('--collection', default='books', help='collection (default books)')
    p.add_argument('--upsert-key', default='id', choices=('id', '_id'),
                   help="field of update_one's filter: id (the write-up) or _id (the primary key)")
    p.add_argument('--page-number', type=int, default=0,
                   help="list pages, known in advance as the write-up's PAGE_NUMBER (default: "
                        "read `count` from the first list page)")
    p.add_argument('--log-level', default='WARNING')
    a = p.parse_args()
    logging.basicConfig(level=a.log_level.upper(), stream=sys.stderr,
                        format='%(asctime)s - %(levelname)s: %(message)s')
    c = Crawler(a)
    t0 = time.monotonic()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    count, listed = loop.run_until_complete(c.main())
    elapsed = time.monotonic() - t0
    print(json.dumps({'contender': 'asyncio', 'pages': c.pages, 'elapsed_s': round(elapsed, 3),
                      'pages_per_s': round(c.pages / elapsed, 1) if elapsed > 0 else None,
                      'count': count, 'listed': listed, 'saved': c.saved,
                      'not_found': c.not_found, 'retries': c.retries, 'failed': c.failed}))
    return 0  # completeness is judged by whoever reads the output (run_bench.py)


if __name__ == '__main__':
    sys.exit(main())
