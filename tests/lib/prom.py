#!/usr/bin/env python3
"""tests/lib/prom.py - read Prometheus text expositions (scraped /metrics files).

  prom.py tsv FILE
      every sample, one a line: NAME, VALUE, then LABEL=VALUE for each
      label (unescaped; a newline in a value as \\n), tab-separated: for
      awk to query without parsing the text format again
  prom.py names FILE...
      every sample name in the files, sorted, once each
  prom.py series --job J --instance I [--shift S] [--indent N] FILE:COUNT...
      promtool test rules' input_series (YAML) of the files as scrapes, one
      every interval: COUNT samples of each file in turn, with the job and
      instance labels Prometheus would add and its up series (1). A series
      a scrape does not have is stale there (as Prometheus marks it), and
      missing after. Values of *_timestamp_seconds series, but 0, are moved
      back by S seconds: a rules test starts at time 0, so the moment of the
      first scrape (S, Unix seconds) becomes 0 and time() - notAfter keeps
      its meaning.

Exits 1 with a message on a line it cannot parse.
"""
import json
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LNAME = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
UNESC = {'\\': '\\', '"': '"', 'n': '\n'}


def parse_line(line):
    """(name, [(label, value)...], value) of one sample line."""
    m = NAME.match(line)
    if not m:
        raise ValueError(line)
    name, i, labels = m.group(0), m.end(), []
    if i < len(line) and line[i] == '{':
        i += 1
        while line[i] != '}':
            m = LNAME.match(line, i)
            if not m or line[m.end():m.end() + 2] != '="':
                raise ValueError(line)
            key, i, val = m.group(0), m.end() + 2, []
            while line[i] != '"':
                if line[i] == '\\':
                    if line[i + 1] not in UNESC:
                        raise ValueError(line)
                    val.append(UNESC[line[i + 1]])
                    i += 2
                else:
                    val.append(line[i])
                    i += 1
            labels.append((key, ''.join(val)))
            i += 1
            if line[i] == ',':
                i += 1
        i += 1
    if line[i] != ' ':
        raise ValueError(line)
    return name, labels, float(line[i + 1:].split(' ')[0])


def samples(path):
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if line and not line.startswith('#'):
                try:
                    yield parse_line(line)
                except (ValueError, IndexError):
                    sys.exit(f'prom.py: {path}: cannot parse: {line!r}')


def fmt(v):
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def quote(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def runs(tokens):
    """promtool's expanding notation: 'VxN' is N+1 samples, '_xN' N."""
    out, i = [], 0
    while i < len(tokens):
        k = i
        while k < len(tokens) and tokens[k] == tokens[i]:
            k += 1
        n, t = k - i, tokens[i]
        # (a stale marker is never repeated: missing samples follow it)
        out.append(t if n == 1 else f'_x{n}' if t == '_' else f'{t}x{n - 1}')
        i = k
    return ' '.join(out)


def series(args):
    job = instance = None
    shift, indent, segs = 0.0, 0, []
    it = iter(args)
    for a in it:
        if a == '--job':
            job = next(it)
        elif a == '--instance':
            instance = next(it)
        elif a == '--shift':
            shift = float(next(it))
        elif a == '--indent':
            indent = int(next(it))
        else:
            path, count = a.rsplit(':', 1)
            segs.append((path, int(count)))
    if job is None or instance is None or not segs:
        sys.exit('prom.py series: --job, --instance and FILE:COUNT wanted')
    order, scrapes = [], []
    for path, count in segs:
        got = {}
        for name, labels, v in samples(path):
            key = name + '{' + ','.join(f'{k}={quote(x)}' for k, x in
                                        labels + [('job', job), ('instance', instance)]) + '}'
            if name.endswith('_timestamp_seconds') and v != 0:
                v -= shift
            if key not in got and key not in order:
                order.append(key)
            got[key] = fmt(v)
        scrapes.append((got, count))
    pad = ' ' * indent
    up = 'up{job=' + quote(job) + ',instance=' + quote(instance) + '}'
    print(f'{pad}- series: {json.dumps(up)}')
    print(f'{pad}  values: {json.dumps(runs(["1"] * sum(c for _, c in segs)))}')
    for key in order:
        tokens, seen = [], False
        for got, count in scrapes:
            for _ in range(count):
                if key in got:
                    tokens.append(got[key])
                    seen = True
                else:
                    tokens.append('stale' if seen and tokens[-1] not in ('stale', '_')
                                  else '_')
        print(f'{pad}- series: {json.dumps(key)}')
        print(f'{pad}  values: {json.dumps(runs(tokens))}')


def main(argv):
    if len(argv) == 2 and argv[0] == 'tsv':
        for name, labels, v in samples(argv[1]):
            print('\t'.join([name, fmt(v)] + [f"{k}={x}".replace('\n', '\\n')
                                              for k, x in labels]))
    elif len(argv) >= 2 and argv[0] == 'names':
        print('\n'.join(sorted({n for p in argv[1:] for n, _, _ in samples(p)})))
    elif argv and argv[0] == 'series':
        series(argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
