"""Which answers depend on which: the order to compute relevance and calculations, and cycles."""

from __future__ import annotations

import heapq

from forms.expr.ast import refs
from forms.model import Field, FormDef


def dependencies(form: FormDef) -> dict[str, set[str]]:
    """field -> the fields whose answers (or relevance) it needs before its own can be settled."""
    deps: dict[str, set[str]] = {}

    def visit(f: Field, parent: str | None) -> None:
        need: set[str] = set()
        for expr in (f.relevant, f.calculation):
            if expr is not None:
                need |= refs(expr.tree)
        if parent is not None:
            need.add(parent)
        deps[f.name] = need
        for child in f.children:
            visit(child, f.name)

    for f in form.fields:
        visit(f, None)
    return deps


def _order_index(form: FormDef) -> dict[str, int]:
    return {f.name: i for i, f in enumerate(form.all_fields())}


def topological_order(form: FormDef) -> list[str]:
    """Fields in an order where each comes after what it depends on; document order breaks ties.

    Fields caught in a cycle are left out (the loader reports cycles, so a loaded form has none).
    """
    deps = dependencies(form)
    position = _order_index(form)
    waiting = {name: {d for d in need if d in deps} for name, need in deps.items()}
    users: dict[str, list[str]] = {name: [] for name in deps}
    for name, need in waiting.items():
        for d in need:
            users[d].append(name)
    ready = [(position[n], n) for n, need in waiting.items() if not need]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for user in users[name]:
            waiting[user].discard(name)
            if not waiting[user]:
                heapq.heappush(ready, (position[user], user))
    return order


def find_cycle(form: FormDef) -> list[str] | None:
    """One cycle among the dependencies, as field names with the first repeated at the end."""
    deps = dependencies(form)
    position = _order_index(form)
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def dfs(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for d in sorted(deps.get(name, ()), key=lambda n: position.get(n, 0)):
            if d not in deps:
                continue
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state:
                found = dfs(d)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(deps, key=lambda n: position[n]):
        if name not in state:
            found = dfs(name)
            if found:
                return found
    return None
