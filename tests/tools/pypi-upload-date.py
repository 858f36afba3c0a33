"""Print a moment just after a release was uploaded to PyPI, for
pip's --uploaded-prior-to: installing an old release with the dependencies
of its time (a newer dependency can break it).

usage: python3 pypi-upload-date.py <project> <version>

One request to PyPI's simple index (JSON form, PEP 691/700), which carries
the upload time of every file. The answer is the first upload of <version>
plus one day, so that the release's own wheels (uploaded over a few hours)
are included.
"""
import datetime
import json
import re
import sys
import urllib.request


def main():
    project, version = sys.argv[1], sys.argv[2]
    req = urllib.request.Request(
        f"https://pypi.org/simple/{project}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        index = json.load(resp)
    norm = re.sub(r"[-_.]+", "_", project).lower()
    pattern = re.compile(re.escape(norm) + "-" + re.escape(version) + r"(?:-|\.tar\.gz$|\.zip$)", re.I)
    times = [f["upload-time"] for f in index["files"]
             if f.get("upload-time") and pattern.match(re.sub(r"^[^-]+", lambda m: re.sub(r"[-_.]+", "_", m.group(0)).lower(), f["filename"]))]
    if not times:
        sys.exit(f"{project} {version}: no such release on PyPI")
    first = datetime.datetime.fromisoformat(min(times).replace("Z", "+00:00"))
    print((first + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


if __name__ == "__main__":
    main()
