#!/usr/bin/env python3
"""Self-check for a report catalog (reference/catalog/fyNNNN.toml).

Usage: python3 check_catalog.py [CATALOG.toml] [--spec PATH/TO/domain.md]

Loads the TOML (Python 3.11+ tomllib), checks structure and the invariants of
domain.md §4.4–4.6, and prints a summary table. With --spec, every item label
of the 1号/2号 tables is also looked up verbatim in domain.md. Exits non-zero on
the first failed check.
"""

import re
import sys
import tomllib
from collections import OrderedDict
from pathlib import Path

AREAS = [
    "皮膚・形成外科領域", "神経・脳血管領域", "精神科・神経科領域", "眼領域",
    "耳鼻咽喉領域", "呼吸器領域", "消化器系領域", "肝・胆道・膵臓領域",
    "循環器系領域", "腎・泌尿器系領域", "産科領域", "婦人科領域", "乳腺領域",
    "内分泌・代謝・栄養領域", "血液・免疫系領域", "筋・骨格系及び外傷領域",
    "小児領域",
]

DISEASES = [
    "貧血", "糖尿病", "脂質異常症", "統合失調症", "鬱病、そう鬱病その他の気分障害",
    "不安、ストレスその他の神経症", "睡眠障害", "認知症", "片頭痛その他の頭痛",
    "脳梗塞", "末梢神経障害", "結膜炎、角膜炎又は涙腺炎", "白内障", "緑内障",
    "近視、遠視、老視その他の屈折及び調節の異常", "中耳炎又は外耳炎", "難聴",
    "高血圧症", "狭心症", "不整脈", "心不全", "喘息又は慢性閉塞性肺疾患", "感冒",
    "アレルギー性鼻炎", "下痢又は胃腸炎", "便秘",
    "肝硬変、ウイルス性肝炎又はその他の慢性肝炎", "皮膚疾患",
    "関節リウマチ又は脱臼その他の関節症", "骨粗鬆症", "腰痛", "頸腕症候群",
    "外傷", "骨折", "前立腺肥大症", "慢性腎臓病", "更年期障害", "乳房の疾患",
    "がん", "正常妊娠・産じょくの管理",
]

SECTION_IDS = ["1", "2i", "2ro", "2ha", "2ni", "other"]
FUNCTIONS = {
    "1": "function1", "2i": "after_hours", "2ro": "admission_discharge",
    "2ha": "home_care", "2ni": "care_coordination", "other": "other",
}
KINDS = {"choice", "multi", "count", "decimal1", "text", "names"}
ITEM_KEYS = {
    "code", "section", "label", "kind", "choices", "scale", "yes", "required",
    "star", "provisional", "source", "condition", "exclusive", "other_text",
    "max_length", "max_names", "ndb_key", "ndb_probable",
    "counts_for_function", "help", "published", "sensitive", "unit",
}
# "医療機関用かかりつけ医機能報告マニュアル (2025-11-04) 報告項目一覧 No.N"; a later
# catalog cites a later edition, so the date is matched, not fixed.
MAN_SOURCE_RE = r"医療機関用かかりつけ医機能報告マニュアル \(\d{4}-\d{2}-\d{2}\) 報告項目一覧 No\."
STAR_ITEMS = {"1-1", "1-4", "1-6"}


def fail(msg):
    print(f"NG: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def choice_list(item, scales):
    if "scale" in item:
        return scales[item["scale"]]["choices"]
    return item.get("choices", [])


def main(argv):
    args = list(argv[1:])
    spec = None
    if "--spec" in args:
        i = args.index("--spec")
        spec = Path(args[i + 1])
        del args[i:i + 2]
    path = Path(args[0]) if args else Path(__file__).with_name("fy2025.toml")
    with open(path, "rb") as f:
        cat = tomllib.load(f)

    # --- top level -------------------------------------------------------
    for key in ("fiscal_year", "version", "title", "note"):
        check(key in cat, f"missing top-level key {key}")
    check(isinstance(cat["fiscal_year"], int), "fiscal_year must be an integer")
    check(str(cat["version"]).startswith(f"{cat['fiscal_year']}."),
          "version should start with the fiscal year")
    check("\n" not in cat["note"], "note must be one line")

    # --- scales ----------------------------------------------------------
    scales = {}
    for s in cat.get("scales", []):
        check(s["id"] not in scales, f"duplicate scale {s['id']}")
        codes = [c["code"] for c in s["choices"]]
        check(len(codes) == len(set(codes)), f"scale {s['id']}: duplicate codes")
        check(set(s["yes"]) <= set(codes), f"scale {s['id']}: yes not in codes")
        scales[s["id"]] = s
    check(set(scales) == {"F8", "I3", "B7"}, f"scales are {sorted(scales)}")
    check(scales["F8"]["yes"] == [2, 3, 4, 5, 6, 7], "F8 yes")
    check(scales["I3"]["yes"] == [2], "I3 yes")
    check(scales["B7"]["yes"] == [4, 5, 6], "B7 yes")
    check(len(scales["F8"]["choices"]) == 8, "F8 has 8 choices")
    check(len(scales["I3"]["choices"]) == 3, "I3 has 3 choices")
    check(len(scales["B7"]["choices"]) == 7, "B7 has 7 choices")

    # --- sections --------------------------------------------------------
    sections = OrderedDict()
    for s in cat["sections"]:
        check(s["id"] not in sections, f"duplicate section {s['id']}")
        check(FUNCTIONS.get(s["id"]) == s["function"],
              f"section {s['id']}: function {s['function']}")
        sections[s["id"]] = s
    check(list(sections) == SECTION_IDS, f"section ids/order: {list(sections)}")

    # --- items -----------------------------------------------------------
    items = OrderedDict()
    ndb_keys = set()
    for it in cat["items"]:
        code = it.get("code")
        check(code and code not in items, f"missing or duplicate item code {code!r}")
        unknown = set(it) - ITEM_KEYS
        check(not unknown, f"{code}: unknown keys {sorted(unknown)}")
        for key in ("section", "label", "kind", "required", "provisional", "source"):
            check(key in it, f"{code}: missing {key}")
        check(it["section"] in sections, f"{code}: unknown section {it['section']}")
        check(it["kind"] in KINDS, f"{code}: unknown kind {it['kind']}")
        check(it["label"].strip() == it["label"] and it["label"], f"{code}: label")
        check(it["source"], f"{code}: empty source")
        kind = it["kind"]

        # choices / scale
        if kind in ("choice", "multi"):
            check(("choices" in it) != ("scale" in it),
                  f"{code}: exactly one of choices / scale")
            if "scale" in it:
                check(it["scale"] in scales, f"{code}: unknown scale {it['scale']}")
            codes = [c["code"] for c in choice_list(it, scales)]
            check(codes, f"{code}: no choices")
            check(len(codes) == len(set(codes)), f"{code}: duplicate choice codes")
            check(all(isinstance(c, int) and c >= 0 for c in codes),
                  f"{code}: choice codes must be non-negative integers")
            if "yes" in it:
                check(set(it["yes"]) <= set(codes), f"{code}: yes not in codes")
                if "scale" in it:
                    check(it["yes"] == scales[it["scale"]]["yes"],
                          f"{code}: yes differs from scale {it['scale']}")
            if "exclusive" in it:
                check(kind == "multi", f"{code}: exclusive only for multi")
                check(it["exclusive"] in codes, f"{code}: exclusive not a code")
                check(it["exclusive"] not in it.get("yes", []),
                      f"{code}: exclusive code cannot be a yes code")
        else:
            for key in ("choices", "scale", "yes", "exclusive"):
                check(key not in it, f"{code}: {key} not allowed for {kind}")

        if "other_text" in it:
            check(kind in ("choice", "multi"), f"{code}: other_text needs choice/multi")
        if kind == "text":
            check(isinstance(it.get("max_length"), int), f"{code}: text needs max_length")
        else:
            check("max_length" not in it, f"{code}: max_length only for text")
        if kind == "names":
            check(it.get("max_names") == 8, f"{code}: names needs max_names = 8")
            check("counts_for_function" in it, f"{code}: names needs counts_for_function")
        else:
            check("max_names" not in it and "counts_for_function" not in it,
                  f"{code}: max_names/counts_for_function only for names")
        if "ndb_key" in it:
            check(kind == "count", f"{code}: ndb_key only for count")
            check(re.fullmatch(r"[a-z][a-z0-9_]*", it["ndb_key"]),
                  f"{code}: ndb_key must be short lowercase ASCII")
            check(it["ndb_key"] not in ndb_keys, f"{code}: duplicate ndb_key")
            ndb_keys.add(it["ndb_key"])
        if "ndb_probable" in it:
            check("ndb_key" in it, f"{code}: ndb_probable needs ndb_key")

        # star
        check(bool(it.get("star", False)) == (code in STAR_ITEMS),
              f"{code}: star must be set exactly on {sorted(STAR_ITEMS)}")

        # condition: refers to an existing, earlier choice item and valid codes
        if "condition" in it:
            cond = it["condition"]
            ref = cond.get("item")
            check(ref in items, f"{code}: condition refers to {ref!r}, not an earlier item")
            ref_item = items[ref]
            check(ref_item["kind"] in ("choice", "multi"),
                  f"{code}: condition on a non-choice item")
            ref_codes = {c["code"] for c in choice_list(ref_item, scales)}
            check(cond["in"] and set(cond["in"]) <= ref_codes,
                  f"{code}: condition codes {cond['in']} not in {ref}")

        # provisional / source
        if it["provisional"]:
            if re.match(MAN_SOURCE_RE, it["source"]):
                check("暫定" in it["source"],
                      f"{code}: provisional [MAN] row must say which part is provisional")
            else:
                check(it["source"].startswith("暫定"),
                      f"{code}: provisional row's source must start with 暫定")
        else:
            check(re.fullmatch(MAN_SOURCE_RE + r"\d+( \(.*\))?", it["source"]),
                  f"{code}: non-provisional row needs the manual as source")

        # section-specific rules
        sec = it["section"]
        if sec == "1":
            check(it["required"] is True, f"{code}: every 1号 item is required")
        elif sec == "other":
            check(it["required"] is False, f"{code}: その他 items are optional")
            check(it["provisional"] is True, f"{code}: その他 items are provisional")
            check(code.startswith("9-"), f"{code}: その他 codes are 9-N")
        else:
            want = kind == "choice"
            check(it["required"] is want,
                  f"{code}: 2号 required must be {want} for {kind}")
            if kind == "choice":
                check(it.get("yes"), f"{code}: 2号 choice item needs a yes-set")
            if kind == "count":
                check("ndb_key" in it, f"{code}: 2号 count items are NDB items")
        if kind == "count":
            unit = it.get("unit", "")
            check(isinstance(unit, str) and 0 < len(unit) <= 4,
                  f"{code}: count items carry their unit (回, 人, 件 …)")
        else:
            check("unit" not in it, f"{code}: unit only for count items")
        items[code] = it

    # --- specific items --------------------------------------------------
    one_four = items["1-4"]
    labels = {c["code"]: c["label"] for c in one_four["choices"]}
    check(labels.get(0) == "該当無し", "1-4: code 0 must be 該当無し")
    check(one_four.get("exclusive") == 0, "1-4: exclusive = 0")
    check(one_four.get("yes") == list(range(1, 18)), "1-4: yes = 1..17")
    for n, name in enumerate(AREAS, start=1):
        check(labels.get(n) == name, f"1-4: area {n} should be {name}, got {labels.get(n)}")
    check(set(labels) == set(range(0, 18)), "1-4: codes must be 0..17")

    one_five = items["1-5"]
    labels = {c["code"]: c["label"] for c in one_five["choices"]}
    for n, name in enumerate(DISEASES, start=1):
        check(labels.get(n) == name, f"1-5: disease {n} should be {name}, got {labels.get(n)}")
    check(set(labels) == set(range(1, 41)), "1-5: codes must be 1..40")
    check(one_five.get("other_text") is True, "1-5: other_text")

    expect_cond = {
        "1-2a": ("1-2", [1]), "1-3a": ("1-3", [1]),
        "2イ-3a": ("2イ-3", [2, 3, 5, 6]), "2ロ-1a": ("2ロ-1", [5, 6]),
        "2ハ-1a": ("2ハ-1", [4, 5]),
    }
    for code, (ref, codes) in expect_cond.items():
        c = items[code].get("condition", {})
        check(c.get("item") == ref and c.get("in") == codes, f"{code}: condition")
    for code in ("2イ-3a", "2ロ-1a", "2ハ-1a"):
        check(items[code]["counts_for_function"] is False, f"{code}: must not count")
    check(items["2ニ-6"]["counts_for_function"] is True, "2ニ-6 counts")
    check("condition" not in items["2ニ-6"], "2ニ-6 has no condition")
    check(items["1-2a"]["kind"] == "count" and items["1-3a"]["kind"] == "decimal1",
          "1-2a count, 1-3a decimal1")
    for code in ("2イ-7", "2イ-8"):
        check(items[code].get("ndb_probable") is True, f"{code}: ndb_probable")

    # every 2号 category can become 有り through at least one item
    for sid in ("2i", "2ro", "2ha", "2ni"):
        check(any(it["section"] == sid and (it.get("yes") or it["kind"] == "count"
                  or it.get("counts_for_function")) for it in items.values()),
              f"section {sid}: no item can make it 有り")

    # --- optional: labels verbatim in domain.md --------------------------
    if spec:
        text = spec.read_text(encoding="utf-8")
        for code, it in items.items():
            if it["section"] == "other":
                continue
            row = re.search(r"^\| " + re.escape(code) + r"(?: ★)? \| (.+?) \|", text, re.M)
            check(row, f"{code}: no row in {spec}")
            check(row.group(1) == it["label"],
                  f"{code}: label differs from spec: {row.group(1)!r} vs {it['label']!r}")
        for s in scales.values():
            for c in s["choices"]:
                check(f"{c['code']} {c['label']}" in text,
                      f"scale {s['id']}: '{c['code']} {c['label']}' not in spec")
        print(f"labels checked against {spec}")

    # --- summary ---------------------------------------------------------
    print(f"{cat['title']}  fiscal_year={cat['fiscal_year']}  version={cat['version']}")
    print(f"{'section':<8} {'function':<20} {'items':>5} {'provisional':>11}")
    total = prov = 0
    for sid, s in sections.items():
        its = [it for it in items.values() if it["section"] == sid]
        p = sum(1 for it in its if it["provisional"])
        total += len(its)
        prov += p
        print(f"{sid:<8} {s['function']:<20} {len(its):>5} {p:>11}")
    print(f"{'total':<8} {'':<20} {total:>5} {prov:>11}")
    print("provisional:", " ".join(c for c, it in items.items() if it["provisional"]))
    print("OK")


if __name__ == "__main__":
    main(sys.argv)
