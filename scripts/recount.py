#!/usr/bin/env python3
"""Recounts the legacy jobs and storage gauges from a NetBackup API (or the simulator), with
code that shares nothing with the agent: to review golden files and reports by hand.

    nbu-otel sim --listen 127.0.0.1:19551 --seed 7 --jobs 30 --storage-units 3 --api-key k &
    scripts/recount.py http://127.0.0.1:19551/netbackup k

Prints nbu_jobs_count / nbu_jobs_bytes (finished jobs: state DONE), nbu_jobs_state_count and
the disk values of non-tape storage units, one line each, sorted.
"""

import collections
import json
import sys
import urllib.request


def get(base, key, path):
    request = urllib.request.Request(
        base + path,
        headers={"Authorization": key, "Accept": "application/vnd.netbackup+json;version=14.0"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: recount.py <base url ending in /netbackup> <api key>")
    base, key = sys.argv[1], sys.argv[2]
    jobs, after = [], None
    while True:
        path = "/admin/jobs?page[limit]=100&sort=jobId" + (f"&page[after]={after}" if after else "")
        page = get(base, key, path)
        jobs += [item["attributes"] for item in page["data"]]
        after = page.get("meta", {}).get("pagination", {}).get("next")
        if not after or not page["data"]:
            break
    counts, kilobytes, states = collections.Counter(), collections.Counter(), collections.Counter()
    for job in jobs:
        states[(job.get("jobType", ""), job.get("state", "UNKNOWN"))] += 1
        if job.get("state") == "DONE":
            labels = (job.get("jobType", ""), job.get("policyType", ""), str(job.get("status", "")))
            counts[labels] += 1
            kilobytes[labels] += job.get("kilobytesTransferred", 0)
    for (action, policy, status), n in sorted(counts.items()):
        labels = f'action="{action}",policy_type="{policy}",status="{status}"'
        print(f"nbu_jobs_count{{{labels}}} {n}")
        print(f"nbu_jobs_bytes{{{labels}}} {kilobytes[(action, policy, status)] * 1024}")
    for (action, state), n in sorted(states.items()):
        print(f'nbu_jobs_state_count{{action="{action}",state="{state}"}} {n}')
    units = get(base, key, "/storage/storage-units?page[limit]=100")
    for item in units["data"]:
        unit = item["attributes"]
        if unit.get("storageType", "").upper() == "TAPE":
            continue
        labels = f'name="{unit.get("name")}",type="{unit.get("storageServerType", "")}"'
        for size, field in (("free", "freeCapacityBytes"), ("used", "usedCapacityBytes")):
            if unit.get(field) is not None:
                print(f'nbu_disk_bytes{{{labels},size="{size}"}} {unit[field]}')


if __name__ == "__main__":
    main()
