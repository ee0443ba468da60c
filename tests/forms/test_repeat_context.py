"""What ${name} means inside and around repeats, and how relevance and problems follow instances.

Inside a repeat, ${x} is the same instance's x; a field outside the repeat is seen as it is; from outside,
${x} of a repeat field gathers every instance's answer (a node-set) for count(), sum(), max(), min().
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from forms.engine import Evaluation, evaluate
from forms.loader import load_yaml_text
from forms.model import FormDef

TODAY = dt.date(2024, 5, 10)

ORDER = load_yaml_text(
    """
settings: {form_id: order, version: '1', title: Order}
survey:
  - {type: integer, name: limit, label: Limit}
  - {type: text, name: buyer, label: Buyer}
  - {type: select_one yes_no, name: has_items, label: Has items}
  - type: repeat
    name: items
    label: Items
    relevant: ${has_items} = 'yes'
    children:
      - {type: text, name: item_name, label: Item}
      - {type: integer, name: cap, label: Cap}
      - type: integer
        name: qty
        label: Quantity
        constraint: . <= ${cap}
      - type: integer
        name: reserve
        label: Reserve
        constraint: . <= ${limit}
      - type: text
        name: reason
        label: Reason for a large quantity
        required: true
        relevant: ${qty} > 10
      - {type: calculate, name: line_total, calculation: '${qty} * 2'}
      - {type: calculate, name: label_text, calculation: "concat(${buyer}, '/', ${item_name})"}
      - {type: calculate, name: items_seen_inside, calculation: 'count(${items})'}
  - {type: calculate, name: n_items, calculation: 'count(${items})'}
  - {type: calculate, name: n_qty, calculation: 'count(${qty})'}
  - {type: calculate, name: total_qty, calculation: 'sum(${qty})'}
  - {type: calculate, name: max_qty, calculation: 'max(${qty})'}
  - {type: calculate, name: min_qty, calculation: 'min(${qty})'}
  - {type: calculate, name: total_line, calculation: 'sum(${line_total})'}
  - {type: calculate, name: any_large, calculation: '${qty} > 10'}
  - {type: calculate, name: names, calculation: "join(', ', ${item_name})"}
choices:
  yes_no:
    - {name: 'yes', label: 'Yes'}
    - {name: 'no', label: 'No'}
"""
)


def run(form: FormDef, data: dict[str, Any]) -> Evaluation:
    return evaluate(form, data, today=TODAY)


def codes(result: Evaluation) -> list[tuple[tuple[str | int, ...], str]]:
    return [(p.path, p.code) for p in result.problems]


def item(**answers: Any) -> dict[str, Any]:
    return {"item_name": "pen", "cap": 100, "qty": 1, **answers}


def test_a_sibling_in_the_same_instance() -> None:
    data = {
        "has_items": "yes",
        "items": [item(cap=5, qty=5), item(cap=3, qty=4), item(cap=10, qty=9)],
    }
    result = run(ORDER, data)
    # only the second instance's qty is above its own cap
    assert codes(result) == [(("items", 1, "qty"), "constraint")]
    assert result.problems[0].path_str == "items[1].qty"


def test_a_calculation_in_an_instance_uses_that_instance() -> None:
    data = {"has_items": "yes", "items": [item(qty=2), item(qty=7), item(qty=None)]}
    result = run(ORDER, data)
    assert [i.get("line_total") for i in result.data["items"]] == [4, 14, None]


def test_outer_fields_are_visible_inside_the_repeat() -> None:
    data = {
        "limit": 3,
        "buyer": "No.1 Middle School",
        "has_items": "yes",
        "items": [item(item_name="pen", reserve=3), item(item_name="ink", reserve=4)],
    }
    result = run(ORDER, data)
    assert codes(result) == [(("items", 1, "reserve"), "constraint")]
    assert [i["label_text"] for i in result.data["items"]] == [
        "No.1 Middle School/pen",
        "No.1 Middle School/ink",
    ]
    # the outer answer changes, every instance follows
    result = run(ORDER, {**data, "limit": 10})
    assert codes(result) == []


def test_aggregates_over_a_repeat_field_from_outside() -> None:
    data = {"has_items": "yes", "items": [item(qty=3), item(qty=9), item(qty=4)]}
    out = run(ORDER, data).data
    assert out["n_items"] == 3
    assert out["n_qty"] == 3
    assert out["total_qty"] == 16
    assert out["max_qty"] == 9
    assert out["min_qty"] == 3
    assert out["total_line"] == 32  # a sum over a calculation made in each instance
    assert out["names"] == "pen, pen, pen"
    assert [i["items_seen_inside"] for i in out["items"]] == [3, 3, 3]


def test_aggregates_with_an_unanswered_instance() -> None:
    data = {"has_items": "yes", "items": [item(qty=3), item(qty=None)]}
    out = run(ORDER, data).data
    assert out["n_items"] == 2
    assert out["n_qty"] == 2  # count() counts instances, answered or not
    # an empty answer is skipped by sum(), max() and min(), as ODK Collect (JavaRosa) does
    assert (out["total_qty"], out["max_qty"], out["min_qty"]) == (3, 3, 3)


def test_aggregates_over_no_instances() -> None:
    out = run(ORDER, {"has_items": "yes", "items": []}).data
    assert out["n_items"] == 0
    assert out["n_qty"] == 0
    assert out["total_qty"] == 0
    assert "max_qty" not in out  # max() of nothing is NaN
    assert "min_qty" not in out
    assert out["any_large"] == "false"
    assert "names" not in out  # the empty string


def test_a_comparison_with_a_repeat_field_from_outside_is_true_if_any_instance_matches() -> None:
    def any_large(*quantities: int) -> str:
        items = [item(qty=q, reason="bulk") for q in quantities]
        return str(run(ORDER, {"has_items": "yes", "items": items}).data["any_large"])

    assert any_large(3, 12, 4) == "true"
    assert any_large(3, 4) == "false"
    assert any_large(12) == "true"


def test_relevance_on_a_repeat_clears_all_its_instances() -> None:
    data = {
        "has_items": "no",
        # these would break the constraint and the required rule if the repeat applied
        "items": [item(cap=1, qty=50), item(qty=20)],
    }
    result = run(ORDER, data)
    assert codes(result) == []
    assert "items" not in result.data
    assert result.data["n_items"] == 0
    assert result.data["total_qty"] == 0
    assert result.relevance[("items",)] is False
    assert not result.is_relevant(("items", 0, "qty"))


def test_relevance_inside_a_repeat_is_per_instance() -> None:
    data = {
        "has_items": "yes",
        "items": [
            item(qty=5, reason="not needed"),  # not relevant here: cleared
            item(qty=20),  # relevant and required here: missing
            item(qty=30, reason="school sports day"),  # relevant and given
            item(qty=8),
        ],
    }
    result = run(ORDER, data)
    assert codes(result) == [(("items", 1, "reason"), "required")]
    assert [i.get("reason") for i in result.data["items"]] == [
        None,
        None,
        "school sports day",
        None,
    ]
    rel = result.relevance
    assert [rel[("items", i, "reason")] for i in range(4)] == [False, True, True, False]
    assert rel[("items", 0, "qty")] is True


def test_problem_paths_name_the_instance() -> None:
    data = {
        "has_items": "yes",
        "items": [item(), {"qty": "many"}, "not an object", item(qty=20)],
    }
    result = run(ORDER, data)
    assert codes(result) == [
        (("items", 1, "qty"), "type"),
        (("items", 2), "type"),
        (("items", 3, "reason"), "required"),
    ]
    assert [p.path_str for p in result.problems] == [
        "items[1].qty",
        "items[2]",
        "items[3].reason",
    ]


def test_an_unknown_key_in_an_instance() -> None:
    result = run(ORDER, {"has_items": "yes", "items": [item(), item(colour="red")]})
    assert codes(result) == [(("items", 1, "colour"), "unknown_field")]


# -- nested repeats -----------------------------------------------------------------------------------

NESTED = load_yaml_text(
    """
settings: {form_id: nested, version: '1', title: Nested}
survey:
  - {type: text, name: school, label: School}
  - {type: integer, name: max_students, label: Most students in a group}
  - type: repeat
    name: classes
    label: Classes
    children:
      - {type: text, name: class_name, label: Class}
      - {type: integer, name: class_size, label: Class size}
      - type: repeat
        name: groups
        label: Groups
        children:
          - {type: text, name: group_name, label: Group}
          - type: integer
            name: students
            label: Students
            constraint: . <= ${class_size} and . <= ${max_students}
          - type: text
            name: leader
            label: Leader
            required: true
            relevant: ${students} > 3
          - type: calculate
            name: tag
            calculation: "concat(${school}, '/', ${class_name}, '/', ${group_name}, ':', ${students})"
          - {type: calculate, name: groups_in_class, calculation: 'count(${groups})'}
          - {type: calculate, name: students_in_class, calculation: 'sum(${students})'}
          - {type: calculate, name: classes_in_school, calculation: 'count(${classes})'}
      - {type: calculate, name: class_students, calculation: 'sum(${students})'}
      - {type: calculate, name: class_groups, calculation: 'count(${groups})'}
      - {type: calculate, name: own_size, calculation: 'sum(${class_size})'}
      - {type: calculate, name: staff_years, calculation: 'sum(${years})'}
  - type: repeat
    name: staff
    label: Staff
    children:
      - {type: integer, name: years, label: Years of service}
  - {type: calculate, name: all_students, calculation: 'sum(${students})'}
  - {type: calculate, name: all_groups, calculation: 'count(${groups})'}
  - {type: calculate, name: biggest_group, calculation: 'max(${students})'}
"""
)


def nested_record() -> dict[str, Any]:
    return {
        "school": "S1",
        "max_students": 10,
        "classes": [
            {
                "class_name": "1A",
                "class_size": 8,
                "groups": [
                    {"group_name": "g1", "students": 3},
                    {"group_name": "g2", "students": 5, "leader": "Li"},
                ],
            },
            {
                "class_name": "1B",
                "class_size": 20,
                "groups": [
                    {"group_name": "g1", "students": 2},
                    {"group_name": "g2", "students": 7, "leader": "Wang"},
                    {"group_name": "g3", "students": 1},
                ],
            },
        ],
        "staff": [{"years": 12}, {"years": 5}],
    }


def test_the_inner_repeat_sees_its_own_instance_the_outer_instance_and_the_top() -> None:
    out = run(NESTED, nested_record()).data
    tags = [[g["tag"] for g in c["groups"]] for c in out["classes"]]
    assert tags == [["S1/1A/g1:3", "S1/1A/g2:5"], ["S1/1B/g1:2", "S1/1B/g2:7", "S1/1B/g3:1"]]


def test_aggregates_at_each_level_of_nesting() -> None:
    out = run(NESTED, nested_record()).data
    first, second = out["classes"]
    # inside an outer instance: only that instance's inner instances
    assert (first["class_students"], first["class_groups"]) == (8, 2)
    assert (second["class_students"], second["class_groups"]) == (10, 3)
    # inside an inner instance: the repeat itself is every instance under the same outer instance ...
    assert [g["groups_in_class"] for g in first["groups"]] == [2, 2]
    # ... but a field of the repeat is the instance's own answer, so sum() of it is just that
    assert [g["students_in_class"] for g in second["groups"]] == [2, 7, 1]
    assert [g["classes_in_school"] for g in second["groups"]] == [2, 2, 2]
    # a field of the outer repeat seen from inside it: the instance's own answer
    assert (first["own_size"], second["own_size"]) == (8, 20)
    # a field of another repeat seen from inside this one: every instance of that one
    assert first["staff_years"] == second["staff_years"] == 17
    # from the top: everything
    assert (out["all_students"], out["all_groups"], out["biggest_group"]) == (18, 5, 7)


def test_constraints_and_relevance_in_a_nested_repeat() -> None:
    data = nested_record()
    data["classes"][0]["groups"][1]["students"] = 9  # above class 1A's size of 8
    data["classes"][1]["groups"][0]["students"] = 11  # above the school-wide maximum of 10
    data["classes"][1]["groups"][2]["students"] = 4  # now needs a leader
    result = run(NESTED, data)
    assert codes(result) == [
        (("classes", 0, "groups", 1, "students"), "constraint"),
        (("classes", 1, "groups", 0, "students"), "constraint"),
        (("classes", 1, "groups", 0, "leader"), "required"),
        (("classes", 1, "groups", 2, "leader"), "required"),
    ]
    assert result.problems[0].path_str == "classes[0].groups[1].students"
    rel = result.relevance
    assert rel[("classes", 0, "groups", 0, "leader")] is False
    assert rel[("classes", 0, "groups", 1, "leader")] is True


# -- groups and repeats together ---------------------------------------------------------------------

GROUPED = load_yaml_text(
    """
settings: {form_id: grouped, version: '1', title: Grouped}
survey:
  - {type: select_one yes_no, name: boarding, label: Boarding school}
  - type: group
    name: dorms
    label: Dormitories
    relevant: ${boarding} = 'yes'
    children:
      - type: repeat
        name: rooms
        label: Rooms
        children:
          - {type: integer, name: beds, label: Beds, required: true}
          - type: group
            name: fire
            label: Fire safety
            relevant: ${beds} > 4
            children:
              - {type: select_one yes_no, name: extinguisher, label: Extinguisher, required: true}
  - {type: calculate, name: total_beds, calculation: 'sum(${beds})'}
choices:
  yes_no:
    - {name: 'yes', label: 'Yes'}
    - {name: 'no', label: 'No'}
"""
)


def test_a_repeat_inside_a_group_follows_the_group_relevance() -> None:
    rooms = [{"beds": 2}, {"beds": 6}]
    result = run(GROUPED, {"boarding": "no", "rooms": rooms})
    assert codes(result) == []
    assert "rooms" not in result.data
    assert result.data["total_beds"] == 0
    result = run(GROUPED, {"boarding": "yes", "rooms": rooms})
    assert codes(result) == [(("rooms", 1, "extinguisher"), "required")]
    assert result.data["total_beds"] == 8


def test_a_group_inside_a_repeat_is_relevant_per_instance() -> None:
    rooms = [{"beds": 2, "extinguisher": "no"}, {"beds": 6, "extinguisher": "yes"}]
    result = run(GROUPED, {"boarding": "yes", "rooms": rooms})
    assert codes(result) == []
    assert result.data["rooms"] == [{"beds": 2}, {"beds": 6, "extinguisher": "yes"}]
    assert result.relevance[("rooms", 0, "fire")] is False
    assert result.relevance[("rooms", 1, "fire")] is True


# -- known engine/serializer bugs ---------------------------------------------------------------------

FIRST = load_yaml_text(
    """
settings: {form_id: first, version: '1', title: First}
survey:
  - type: repeat
    name: items
    label: Items
    children:
      - {type: integer, name: qty, label: Quantity}
  - {type: calculate, name: first_qty, calculation: '${qty}'}
  - {type: calculate, name: the_items, calculation: '${items}'}
"""
)


def test_a_calculate_holding_a_repeat_field_stores_its_first_value() -> None:
    out = run(FIRST, {"items": [{"qty": 3}, {"qty": 4}]}).data
    assert out["first_qty"] == 3  # actually ['3', '4']


def test_a_calculate_holding_a_repeat_stores_no_engine_internals() -> None:
    out = run(FIRST, {"items": [{"qty": 3}]}).data
    assert "Scope" not in repr(out.get("the_items"))
