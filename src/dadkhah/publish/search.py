"""The memorial site's search: an index of the published names that the reader's browser searches offline.

A reader types a name in either script and finds the persons it names in the other too, as the
registry's own search does (:func:`dadkhah.registry.search.query_terms`): each word becomes its
cross-script key (:func:`dadkhah.normalize.names.token_key`), and a person is found when every word
of the query has a key among the keys of the person's published names. The keys are the words of
the keys the importer stored for the person's published records, and the key of each word of those
names written apart (so "Mohammad" finds the given name "Mohammad Ali").

Why not Pagefind: Pagefind loads its index with ``fetch`` and WebAssembly, which browsers refuse to
pages opened from a disk (``file://``; Pagefind issue 241), and the memorial must work from a USB
stick. Its matching is by words as written, so the keys (and the port of the key function that
turns a query into keys) would be needed anyway. Here the index is plain script files that
``<script>`` tags load, which works from a disk and from any static host:

- ``search/search.js``: the query side (folding, titles, suffixes, keys), ported from
  :mod:`dadkhah.normalize` with its tables written in at build time (a test holds the port to the
  Python on thousands of names in Chromium), and the search page's behaviour;
- ``search/k-XX.js``: for the keys starting with ``XX``, the numbers of the persons bearing each
  (ascending, as differences, so that common names stay small);
- ``search/p-N.js``: the names and city of persons ``N*100`` to ``N*100+99``, for the result list.

A query loads the one or two key files its words need and the person files of the hits it shows.
"""

from __future__ import annotations

import json
from collections import defaultdict

from dadkhah.normalize.names import key_tables, normalize_name

SHARD = 2  # a key file holds the keys starting with the same two letters
PER_FILE = 100  # persons per person file
SHOWN = 50  # hits listed at once (and at each "show more")


def person_keys(records: list[dict]) -> set[str]:
    """The keys that find a person: those the importer stored for the names, and each word's own."""
    keys: set[str] = set()
    for record in records:
        keys.update(record.get("name_keys") or ())
        for field in ("given_name", "family_name", "full_name"):
            if record.get(field):
                value = normalize_name(record[field], "family")
                if value is not None and value.key:
                    keys.update(value.key.split())
    return keys


def _js(call: str, *arguments) -> str:
    return f"dadkhahSearch.{call}({','.join(json.dumps(a, ensure_ascii=False, separators=(',', ':')) for a in arguments)});\n"


def write_search_index(write, render, persons: list[dict]) -> dict:
    """Write the index of ``persons`` (each with ``keys``) through ``write(relative, text)``.

    ``render(template, **context)`` renders ``search.js``. Returns the counts for the build's summary.
    """
    postings: dict[str, list[int]] = defaultdict(list)
    for number, person in enumerate(persons):
        for key in person["keys"]:
            postings[key].append(number)
    shards: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for key in sorted(postings):
        numbers, previous, deltas = postings[key], 0, []
        for n in numbers:
            deltas.append(n - previous)
            previous = n
        shards[key[:SHARD]][key] = deltas
    for shard, table in shards.items():
        write(f"search/k-{shard}.js", _js("keys", shard, table))
    for start in range(0, len(persons), PER_FILE):
        rows = []
        for person in persons[start:start + PER_FILE]:
            city = person.get("city") or {}
            rows.append([person["id"], person.get("name_fa"), person.get("name_latin"), city.get("name_fa"),
                         city.get("name") or (city.get("original") if city and not city.get("place_id") else None)])
        write(f"search/p-{start // PER_FILE}.js", _js("persons", start // PER_FILE, rows))
    write("search/search.js", render("search.js", tables=key_tables(), shard=SHARD, per_file=PER_FILE, shown=SHOWN,
                                        shards=sorted(shards)))
    return {"keys": len(postings), "key_files": len(shards), "person_files": -(-len(persons) // PER_FILE)}
