#!/usr/bin/env python3
"""The layers, checked: every #include against the modules' uses.

    check_layers.py SOURCE_DIR LAYERS_TXT
    check_layers.py --self-test SOURCE_DIR LAYERS_TXT

LAYERS_TXT is written by CMake (<build>/layers.txt) from the jpki_module()
lines of CMakeLists.txt and the unit_also_* lists of tests/CMakeLists.txt:
"module uses..." a line, and "unit/<module> uses..." for what a module's unit
tests drive beyond it. A module may include the public header of a module it
uses, directly or through those (never one above it), and private headers
(anything under src/<module>/) of its own folder only. The same holds for
include/jpki/<module>.h, tests/unit/<module>/ (plus its unit/ extras) and,
through the headers they include, the tests' fixtures. A fuzz target or bench
is a leaf and may include any public header, but private headers of one
module only. The graph must be acyclic, every folder under src/ a module, and
docs/ARCHITECTURE.md's module table must name the same uses in an order where
each module comes after the ones it uses.

Exit 0 when all holds, 1 with one line a problem otherwise. --self-test runs
the check on a copy of the tree with one wrong include (or layer, or table
row) at a time and exits 0 only if each of them is caught.
"""

import os
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
SOURCES = ('.c', '.h')


def read_layers(path):
    """{module: [uses]} in file order, and {module: [unit test extras]}."""
    modules, extra = {}, {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            words = line.split('#', 1)[0].split()
            if not words:
                continue
            if words[0].startswith('unit/'):
                extra[words[0][len('unit/'):]] = words[1:]
            else:
                modules[words[0]] = words[1:]
    return modules, extra


def closure(modules, name):
    """Every module `name` reaches through its uses (itself only in a cycle)."""
    seen, todo = set(), list(modules.get(name, []))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(modules.get(m, []))
    return seen


def find_cycle(modules):
    state, path = {}, []

    def visit(m):
        state[m] = 1
        path.append(m)
        for u in modules.get(m, []):
            if state.get(u) == 1:
                return path[path.index(u):] + [u]
            if u in modules and u not in state:
                found = visit(u)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in modules:
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def check_graph(root, modules, extra):
    errs = []
    for m, uses in modules.items():
        for u in uses:
            if u not in modules:
                errs.append(f'layers: {m} uses {u}, which is no module')
    for m, uses in extra.items():
        for u in uses + [m]:
            if u not in modules:
                errs.append(f'layers: unit/{m} names {u}, which is no module')
    cycle = find_cycle(modules)
    if cycle:
        errs.append('layers: a cycle, ' + ' -> '.join(cycle))
    src = os.path.join(root, 'src')
    for d in sorted(os.listdir(src)):
        if os.path.isdir(os.path.join(src, d)) and d not in modules:
            errs.append(f'src/{d}/: no module {d} in the layers '
                        f'(CMakeLists.txt: jpki_module({d} ...))')
    return errs


def check_table(root, modules):
    """docs/ARCHITECTURE.md's module table against the layers."""
    path = os.path.join(root, 'docs', 'ARCHITECTURE.md')
    doc = 'docs/ARCHITECTURE.md'
    rows, in_section = [], False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('## '):
                in_section = line.strip() == '## Modules'
                continue
            if not in_section or not line.startswith('|'):
                continue
            cols = [c.strip() for c in line.strip().strip('|').split('|')]
            name = cols[0].strip('`* ')
            if name in ('module', '') or set(name) <= set('-: '):
                continue
            if 'planned' in cols[1].lower():
                continue
            rows.append((name, cols[-1]))
    errs, order = [], {}
    for i, (name, _) in enumerate(rows):
        order[name] = i
        if name not in modules:
            errs.append(f'{doc}: the table has a row for {name}, '
                        'which is no module of the layers')
    for m in modules:
        if m not in order:
            errs.append(f'{doc}: the module table has no row for {m}')
    everything = set(modules)
    for name, deps in rows:
        if name not in modules:
            continue
        words = [w.strip().strip('`') for w in
                 re.sub(r'\([^)]*\)', '', deps).split(',')]
        if 'all' in words:
            if closure(modules, name) != everything - {name}:
                missing = everything - {name} - closure(modules, name)
                errs.append(f'{doc}: {name} "depends on all", but does not '
                            f'reach {", ".join(sorted(missing))}')
            said = set()
        else:
            said = {w for w in words if w in modules}
            if said != set(modules[name]):
                errs.append(f'{doc}: {name} depends on '
                            f'{", ".join(sorted(said)) or "no module"} in the '
                            f'table, but uses '
                            f'{", ".join(sorted(modules[name])) or "none"} '
                            'in the layers (CMakeLists.txt)')
        for u in set(modules[name]) | said:
            if u in order and order[u] > order[name]:
                errs.append(f'{doc}: {name} uses {u}, whose row comes after '
                            'it (the table lists each module after the ones '
                            'it uses)')
    return errs


def resolve(root, path, inc, srcmods):
    """What an #include names: ('public', m), ('private', m),
    ('fixture', m, file), ('local', file) or None (a system header)."""
    if inc.startswith('jpki/') and inc.endswith('.h') and '/' not in inc[5:]:
        return ('public', inc[len('jpki/'):-len('.h')])
    first = inc.split('/', 1)[0]
    if '/' in inc and first in srcmods and \
            os.path.exists(os.path.join(root, 'src', inc)):
        return ('private', first)
    for base in (os.path.dirname(path), os.path.join(root, 'tests', 'unit')):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(cand):
            rel = os.path.relpath(cand, root).split(os.sep)
            if rel[0] == 'src' and len(rel) > 2:
                return ('private', rel[1])
            if rel[:2] == ['tests', 'unit'] and len(rel) > 3:
                return ('fixture', rel[2], cand)
            return ('local', cand)
    return None


def reached(root, path, srcmods, seen=None):
    """(line, include text, what) for each module an #include of `path`
    reaches, following the test fixtures and local headers it includes
    (not public or private headers, which are checked where they live)."""
    seen = set() if seen is None else seen
    seen.add(path)
    out = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            what = resolve(root, path, m.group(1), srcmods)
            if what is None:
                continue
            out.append((n, m.group(1), what[:2]))
            if what[0] in ('fixture', 'local') and what[-1] not in seen:
                for _, inner, w in reached(root, what[-1], srcmods, seen):
                    out.append((n, f'{m.group(1)} -> {inner}', w))
    return out


def files_under(root, *parts):
    top = os.path.join(root, *parts)
    for dirpath, _, names in os.walk(top):
        for name in sorted(names):
            if name.endswith(SOURCES):
                yield os.path.join(dirpath, name)


def check_includes(root, modules, extra):
    errs = []
    srcmods = {d for d in os.listdir(os.path.join(root, 'src'))
               if os.path.isdir(os.path.join(root, 'src', d))}
    everything = set(modules)

    def allowed(m):
        return {m} | closure(modules, m)

    scopes = []  # (file, owner for messages, public allowed, private allowed)
    for m in sorted(srcmods):
        for f in files_under(root, 'src', m):
            scopes.append((f, m, allowed(m), {m}))
    for f in files_under(root, 'include', 'jpki'):
        m = os.path.basename(f)[:-len('.h')]
        scopes.append((f, m, allowed(m), set()))
    unit = os.path.join(root, 'tests', 'unit')
    for name in sorted(os.listdir(unit)):
        path = os.path.join(unit, name)
        if os.path.isdir(path):
            ok = allowed(name)
            for x in extra.get(name, []):
                ok |= allowed(x)
            for f in files_under(root, 'tests', 'unit', name):
                scopes.append((f, f'unit/{name}', ok, {name}))
        elif name.endswith(SOURCES):
            # testutil*.c: the store's helpers, linked where the store is
            scopes.append((path, 'tests/unit', allowed('store'), set()))
    leaves = [f for top in ('fuzz', 'bench')
              if os.path.isdir(os.path.join(root, top))
              for f in files_under(root, top)]

    for f, owner, ok, private in scopes:
        rel = os.path.relpath(f, root)
        for n, inc, (kind, m) in reached(root, f, srcmods):
            where = f'{rel}:{n}: #include "{inc}"'
            if kind == 'public' and m not in everything:
                errs.append(f'{where}: {m} is no module of the layers')
            elif kind in ('public', 'fixture') and m not in ok:
                hint = ''
                if owner.startswith('unit/'):
                    hint = (' (a test that truly drives it names it in '
                            f'unit_also_{owner[5:]}, tests/CMakeLists.txt)')
                errs.append(f'{where}: {owner} may use '
                            f'{", ".join(sorted(ok))}, not {m}, which is not '
                            f'below it in the layers{hint}')
            elif kind == 'private' and m not in private:
                errs.append(f'{where}: a private header of {m}, which only '
                            f'src/{m}/ and tests/unit/{m}/ may include')
    for f in leaves:
        rel = os.path.relpath(f, root)
        privs = {}
        for n, inc, (kind, m) in reached(root, f, srcmods):
            if kind == 'public' and m not in everything:
                errs.append(f'{rel}:{n}: #include "{inc}": {m} is no module '
                            'of the layers')
            elif kind == 'private':
                privs.setdefault(m, n)
        if len(privs) > 1:
            errs.append(f'{rel}: private headers of '
                        f'{" and ".join(sorted(privs))}: a fuzz target or '
                        'bench exercises one module, the others through '
                        'their public headers')
    return errs


def check(root, layers):
    modules, extra = read_layers(layers)
    return (check_graph(root, modules, extra) + check_table(root, modules) +
            check_includes(root, modules, extra))


def append(path, text):
    with open(path, 'a', encoding='utf-8') as f:
        f.write(text)


def replace(path, old, new):
    with open(path, encoding='utf-8') as f:
        s = f.read()
    if old not in s:
        raise SystemExit(f'self-test: "{old}" is not in {path}')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(s.replace(old, new, 1))


# Each: what is wrong, the file (relative to the copy; "layers" is the
# layers file), how it is made wrong, what the new problem must mention.
CASES = [
    ('a module includes the header of one above it', 'src/ca/crl.c',
     lambda p: append(p, '#include "jpki/window.h"\n'),
     'src/ca/crl.c'),
    ("a module includes another module's private header", 'src/cli/main.c',
     lambda p: append(p, '#include "client/client_internal.h"\n'),
     'a private header of client'),
    ('a public header includes one above it', 'include/jpki/store.h',
     lambda p: append(p, '#include "jpki/ca.h"\n'),
     'include/jpki/store.h'),
    ('a unit test includes a module above its own',
     'tests/unit/store/test_store.c',
     lambda p: append(p, '#include "jpki/ca.h"\n'),
     'unit/store may use base, store, not ca'),
    ('a unit test includes the private header of another module',
     'tests/unit/ca/test_ca.c',
     lambda p: append(p, '#include "window/window_internal.h"\n'),
     'a private header of window'),
    ("a unit test takes a higher module's fixture",
     'tests/unit/profile/test_cert.c',
     lambda p: append(p, '#include "ca/ca_fixture.h"\n'),
     'unit/profile may use base, profile, not ca'),
    ('a fuzz target reaches the private headers of two modules',
     'fuzz/form_fuzzer.c',
     lambda p: append(p, '#include "card/card_internal.h"\n'),
     'private headers of card and http'),
    ('the layers hold a cycle', 'layers',
     lambda p: append(p, 'base store\n'),
     'a cycle'),
    ('the table names other uses than the layers', 'docs/ARCHITECTURE.md',
     lambda p: replace(p, '| audit, profile |', '| audit |'),
     'registry depends on audit in the table'),
    ('a folder under src/ that is no module', 'src/extra/extra.c',
     lambda p: (os.makedirs(os.path.dirname(p)), append(p, '\n')),
     'src/extra/'),
]


def self_test(root, layers):
    tmp = tempfile.mkdtemp(prefix='jpki-layers-')
    failed = 0
    try:
        copy = os.path.join(tmp, 'tree')
        for part in ('src', 'include', os.path.join('tests', 'unit'), 'fuzz',
                     'bench', 'docs'):
            if os.path.isdir(os.path.join(root, part)):
                shutil.copytree(os.path.join(root, part),
                                os.path.join(copy, part),
                                ignore=shutil.ignore_patterns('corpora'))
        copy_layers = os.path.join(tmp, 'layers.txt')
        shutil.copy(layers, copy_layers)
        before = set(check(copy, copy_layers))
        print(f'self-test: the tree as it is: {len(before)} problem(s)')
        for what, rel, spoil, expect in CASES:
            path = copy_layers if rel == 'layers' else os.path.join(copy, rel)
            saved = None
            if os.path.exists(path):
                with open(path, encoding='utf-8') as f:
                    saved = f.read()
            spoil(path)
            new = [e for e in check(copy, copy_layers) if e not in before]
            hit = [e for e in new if expect in e]
            if hit:
                print(f'self-test: caught: {what}: {hit[0]}')
            else:
                failed += 1
                print(f'self-test: NOT CAUGHT: {what} ({rel}); new '
                      f'problems: {new or "none"}')
            if saved is None:
                shutil.rmtree(os.path.dirname(path))
            else:
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(saved)
    finally:
        shutil.rmtree(tmp)
    return 1 if failed else 0


def main(argv):
    args = argv[1:]
    selftest = bool(args) and args[0] == '--self-test'
    if selftest:
        args = args[1:]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root, layers = args
    if selftest:
        return self_test(root, layers)
    errs = check(root, layers)
    for e in errs:
        print(e)
    if errs:
        print(f'{len(errs)} layer problem(s). The layers are the '
              'jpki_module() lines of CMakeLists.txt and the unit_also_* '
              'lists of tests/CMakeLists.txt; docs/ARCHITECTURE.md says '
              'the same in its module table.')
        return 1
    print(f'layers: {len(read_layers(layers)[0])} modules, every #include '
          'within them')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
