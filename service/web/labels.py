"""What people read instead of the contract's codes: one label table for every enum,
the fields' names, and validation messages in the page's language.

The data contract (``matcher.data.schema``) stores codes (``junior_secondary``, ``bo``,
``cross_province_transfer``); a page never shows one. :func:`label` turns a code into
its words, :func:`field_name` names a field, and :func:`error_message` rewrites a
validation error (pydantic's or the contract's) as a sentence that names the field.
A code missing from the table is shown as it is, so a gap is visible, not fatal; the
tests check that every enum value of the contract has an entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: kind -> code -> (Chinese, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "gender": {
        "F": ("女", "female"),
        "M": ("男", "male"),
        "other": ("其他", "other"),
        "unknown": ("未填写", "not given"),
    },
    "education": {
        "none": ("未上学", "no schooling"),
        "primary": ("小学", "primary school"),
        "junior_secondary": ("初中", "junior secondary"),
        "senior_secondary": ("高中", "senior secondary"),
        "vocational": ("中专/技校", "vocational school"),
        "college": ("大专及以上", "college or above"),
    },
    "labor_capacity": {
        "full": ("全劳力", "full"),
        "semi": ("半劳力", "partial"),
        "weak": ("弱劳力", "weak"),
    },
    "mobility": {
        "local": ("仅本地", "local only"),
        "province": ("省内", "within the province"),
        "any": ("不限", "anywhere"),
    },
    "household_status": {
        "none": ("一般户", "not registered"),
        "lifted": ("脱贫户", "lifted out of poverty"),
        "monitored": ("监测户", "monitored household"),
    },
    "channel": {
        "cross_province_transfer": ("跨省转移", "cross-province transfer"),
        "in_province": ("省内就业", "in the province"),
        "employment_factory": ("就业帮扶车间", "employment workshop"),
        "public_welfare_post": ("公益性岗位", "public-welfare post"),
        "infrastructure_project": ("以工代赈", "work-relief project"),
        "unknown": ("未注明渠道", "channel not given"),
    },
    "vacancy_status": {
        "open": ("招聘中", "open"),
        "filled": ("已招满", "filled"),
        "closed": ("已关闭", "closed"),
        "expired": ("已截止", "past its deadline"),
    },
    "worker_status": {
        "active": ("求职中", "seeking work"),
        "employed": ("在岗", "in work"),
        "to_replace": ("待重新安置", "to be re-placed"),
        "inactive": ("不再求职", "not seeking work"),
    },
    "end_reason": {
        "left": ("已离职", "left"),
        "wage_arrears": ("被拖欠工资", "wage arrears"),
        "injury": ("工伤", "injured at work"),
        "moved": ("换了工作", "moved to another job"),
    },
    "follow_up_status": {
        "open": ("待回访", "to visit"),
        "overdue": ("已逾期", "overdue"),
        "done": ("已回访", "done"),
        "cancelled": ("已取消", "cancelled"),
    },
    "event": {
        "viewed": ("已查看", "viewed"),
        "applied": ("已报名", "applied"),
        "interviewed": ("已面试", "interviewed"),
        "rejected": ("未录用", "rejected"),
        "declined": ("本人放弃", "declined"),
        "hired": ("已录用", "hired"),
        "left": ("已离职", "left"),
        "retained_3m": ("在岗满 3 个月", "still there after 3 months"),
        "retained_6m": ("在岗满 6 个月", "still there after 6 months"),
        "wage_arrears": ("被拖欠工资", "wage arrears"),
        "injury": ("工伤", "injured at work"),
    },
    "language": {
        "zh": ("普通话", "Mandarin"),
        "bo": ("藏语", "Tibetan"),
        "ii": ("彝语", "Yi"),
        "za": ("壮语", "Zhuang"),
        "ug": ("维吾尔语", "Uyghur"),
        "mn": ("蒙古语", "Mongolian"),
        "kk": ("哈萨克语", "Kazakh"),
        "ky": ("柯尔克孜语", "Kirghiz"),
        "ko": ("朝鲜语", "Korean"),
        "en": ("英语", "English"),
    },
    "role": {
        "admin": ("管理员", "admin"),
        "officer": ("就业专员", "placement officer"),
        "employer": ("用工企业", "employer"),
    },
    "run_status": {
        "running": ("正在计算", "running"),
        "succeeded": ("已完成", "finished"),
        "failed": ("失败", "failed"),
    },
    "pin_kind": {
        "pin": ("指定", "pinned"),
        "exclude": ("排除", "excluded"),
    },
}

#: Languages offered as checkboxes on forms (the minority-area languages first).
FORM_LANGUAGES = ("zh", "bo", "ii", "za", "ug", "mn")

#: field -> (Chinese, English): the name a person knows the field by
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "worker_id": ("劳动力编号", "worker id"),
    "vacancy_id": ("岗位编号", "vacancy id"),
    "employer_id": ("企业编号", "employer id"),
    "name": ("姓名", "name"),
    "phone": ("电话", "phone"),
    "id_number": ("身份证号", "ID number"),
    "gender": ("性别", "gender"),
    "birth_year": ("出生年份", "birth year"),
    "home_region": ("户籍地", "home county"),
    "education": ("文化程度", "education"),
    "languages": ("语言", "languages"),
    "skills": ("技能", "skills"),
    "work_history": ("工作经历", "work history"),
    "certificates": ("证书", "certificates"),
    "labor_capacity": ("劳动能力", "labour capacity"),
    "mobility": ("流动意愿", "mobility"),
    "max_commute_km": ("最远通勤距离", "longest commute"),
    "preferred_regions": ("意向地区", "preferred regions"),
    "expected_wage": ("期望月薪", "expected wage"),
    "household_status": ("家庭帮扶状态", "household status"),
    "title": ("岗位名称", "title"),
    "description": ("岗位描述", "description"),
    "occupation_code": ("职业", "occupation"),
    "region": ("工作地点", "place of work"),
    "headcount": ("招聘人数", "headcount"),
    "wage_min": ("最低月薪", "minimum wage"),
    "wage_max": ("最高月薪", "maximum wage"),
    "required_skills": ("技能要求", "required skills"),
    "min_age": ("最小年龄", "minimum age"),
    "max_age": ("最大年龄", "maximum age"),
    "housing": ("提供住宿", "housing"),
    "meals": ("提供餐食", "meals"),
    "labor_contract": ("签订劳动合同", "labour contract"),
    "social_insurance": ("缴纳社保", "social insurance"),
    "channel": ("就业渠道", "channel"),
    "posted_at": ("发布日期", "posted"),
    "closes_at": ("截止日期", "deadline"),
    "status": ("状态", "status"),
    "event": ("结果", "outcome"),
    "occurred_at": ("日期", "date"),
    "note": ("备注", "note"),
    "key": ("密钥", "key"),
}


def _index(lang: str) -> int:
    return 1 if lang == "en" else 0


def label(value: Any, kind: str, lang: str = "zh") -> str:
    """The words for a code of ``kind`` (the code itself when the table lacks it)."""
    if value is None or value == "":
        return "—"
    table = LABELS.get(kind, {})
    pair = table.get(str(value))
    return pair[_index(lang)] if pair else str(value)


def labels(values: Any, kind: str, lang: str = "zh") -> str:
    """A list of codes as words, joined by the language's list separator."""
    if values is None or isinstance(values, str) and not values:
        return "—"
    items = [values] if isinstance(values, str) else list(values)
    if not items:
        return "—"
    return ("、" if lang != "en" else ", ").join(label(v, kind, lang) for v in items)


def choices(
    kind: str, lang: str = "zh", only: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """``(code, words)`` pairs for a select or a set of checkboxes."""
    table = LABELS[kind]
    codes = only if only is not None else tuple(table)
    return [(c, label(c, kind, lang)) for c in codes]


def field_name(field: str, lang: str = "zh") -> str:
    pair = FIELD_NAMES.get(field)
    return pair[_index(lang)] if pair else field


# --------------------------------------------------------------------------- messages

#: pydantic error type -> (Chinese, English); ``{field}`` and the error's ``ctx`` fill in
_PYDANTIC: dict[str, tuple[str, str]] = {
    "missing": ("请填写{field}。", "{field} is required."),
    "string_too_long": (
        "{field}最多 {max_length} 个字，请缩短。",
        "{field} may have at most {max_length} characters.",
    ),
    "string_too_short": (
        "{field}至少要 {min_length} 个字。",
        "{field} needs at least {min_length} characters.",
    ),
    "too_long": ("{field}最多 {max_length} 项。", "{field} may have at most {max_length} items."),
    "int_parsing": ("{field}应填整数。", "{field} must be a whole number."),
    "int_from_float": ("{field}应填整数。", "{field} must be a whole number."),
    "float_parsing": ("{field}应填数字。", "{field} must be a number."),
    "finite_number": ("{field}应填数字。", "{field} must be a number."),
    "greater_than_equal": ("{field}不能小于 {ge}。", "{field} must be at least {ge}."),
    "greater_than": ("{field}必须大于 {gt}。", "{field} must be more than {gt}."),
    "less_than_equal": ("{field}不能大于 {le}。", "{field} must be at most {le}."),
    "less_than": ("{field}必须小于 {lt}。", "{field} must be less than {lt}."),
    "date_parsing": ("{field}不是有效日期（如 2026-05-01）。", "{field} is not a date."),
    "date_from_datetime_parsing": (
        "{field}不是有效日期（如 2026-05-01）。",
        "{field} is not a date.",
    ),
    "datetime_parsing": ("{field}不是有效日期（如 2026-05-01）。", "{field} is not a date."),
    "datetime_from_date_parsing": (
        "{field}不是有效日期（如 2026-05-01）。",
        "{field} is not a date.",
    ),
    "enum": ("请从列表中选择{field}。", "Choose {field} from the list."),
    "literal_error": ("请从列表中选择{field}。", "Choose {field} from the list."),
    "bool_parsing": ("{field}应为“是”或“否”。", "{field} must be yes or no."),
    "string_type": ("{field}应为文字。", "{field} must be text."),
    "list_type": ("{field}格式不对。", "{field} has the wrong form."),
    "extra_forbidden": ("不认识的字段：{field}。", "Unknown field {field}."),
}

#: English rule text of the contract and the service -> (Chinese, English); regexes,
#: the first that matches wins; groups fill in the text
_RULES: list[tuple[re.Pattern[str], tuple[str, str]]] = [
    (
        re.compile(r"wage_min is greater than wage_max"),
        ("最低月薪不能高于最高月薪。", "The minimum wage is above the maximum."),
    ),
    (
        re.compile(r"min_age is greater than max_age"),
        ("最小年龄不能大于最大年龄。", "The minimum age is above the maximum."),
    ),
    (
        re.compile(r"posted_at is later than closes_at"),
        ("截止日期不能早于发布日期。", "The deadline is before the posting date."),
    ),
    (re.compile(r"must not be negative"), ("{field}不能是负数。", "{field} must not be negative.")),
    (
        re.compile(r"must be at least ([\d.]+)"),
        ("{field}不能小于 {0}。", "{field} must be at least {0}."),
    ),
    (
        re.compile(r"must be at most ([\d.]+)"),
        ("{field}不能大于 {0}。", "{field} must be at most {0}."),
    ),
    (
        re.compile(r"must be a whole number"),
        ("{field}应填整数。", "{field} must be a whole number."),
    ),
    (re.compile(r"must be a (finite )?number"), ("{field}应填数字。", "{field} must be a number.")),
    (
        re.compile(r"is not an ISO 639-1 language code"),
        ("{field}中有不认识的语言。", "{field} holds an unknown language."),
    ),
    (
        re.compile(r"is not a CSCO 2022 occupation code"),
        (
            "职业代码不在国家职业分类大典（2022）中；可留空，由系统根据岗位名称推断。",
            "Not a CSCO 2022 occupation code; leave it blank to infer it from the title.",
        ),
    ),
    (
        re.compile(r"(unknown|not a known|no such) (region|county)|region code", re.I),
        (
            "{field}不是已知的地区，请从列表中选择。",
            "{field} is not a known region; choose one from the list.",
        ),
    ),
    (re.compile(r"is required|required"), ("请填写{field}。", "{field} is required.")),
    (re.compile(r"unknown employer"), ("没有这个企业。", "Unknown employer.")),
    (
        re.compile(r"unknown vacancy"),
        (
            "没有这个岗位，请从推荐列表中选择。",
            "Unknown vacancy; choose one from the recommendations.",
        ),
    ),
    (re.compile(r"exists already"), ("这个编号已被使用。", "This id is taken.")),
    (
        re.compile(r"cannot be in the future"),
        ("日期不能晚于今天。", "The date cannot be in the future."),
    ),
    (re.compile(r"officers record one of"), ("请选择一种结果。", "Choose an outcome.")),
    (
        re.compile(r"not (a valid|an ISO) (date|time)|not a date", re.I),
        ("{field}不是有效日期（如 2026-05-01）。", "{field} is not a date."),
    ),
    (
        re.compile(r"one of|not one of|must be one of", re.I),
        ("请从列表中选择{field}。", "Choose {field} from the list."),
    ),
]


def _field_of(err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    return loc[0] if loc else ""


def error_message(err: Mapping[str, Any], lang: str = "zh") -> str:
    """One validation error (pydantic's dict or the service's ``{loc, msg, type}``) as a
    sentence in ``lang`` that names the field as people know it."""
    i = _index(lang)
    field = _field_of(err)
    name = field_name(field, lang) if field else ("此项" if i == 0 else "This field")
    kind = str(err.get("type") or "")
    template = _PYDANTIC.get(kind)
    if template is not None:
        ctx = {k: v for k, v in dict(err.get("ctx") or {}).items()}
        try:
            return template[i].format(field=name, **ctx)
        except (KeyError, IndexError):
            pass
    msg = str(err.get("msg") or "")
    for pattern, words in _RULES:
        m = pattern.search(msg)
        if m:
            return words[i].format(*m.groups(), field=name)
    if kind == "value_error" and msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if i == 0:
        return f"{name}填写有误，请检查。"
    return f"{name}: {msg}" if msg else f"{name} is not valid."


def field_errors(errors: Sequence[Mapping[str, Any]], lang: str = "zh") -> dict[str, str]:
    """``{field: message}`` for a form (the first message per field; ``_`` for the form)."""
    out: dict[str, str] = {}
    for err in errors:
        out.setdefault(_field_of(err) or "_", error_message(err, lang))
    return out


#: HTTP statuses as a person reads them
STATUS_TITLES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "Bad request"),
    401: ("请先登录", "Please log in"),
    403: ("无权访问", "Not allowed"),
    404: ("未找到", "Not found"),
    405: ("不支持的操作", "Not supported"),
    409: ("与现有记录冲突", "Conflict"),
    422: ("填写有误", "Please check the input"),
    429: ("请求太频繁", "Too many requests"),
    500: ("服务器出错", "Server error"),
    503: ("暂时无法提供", "Temporarily unavailable"),
}

#: (regex on the English detail, (Chinese, English)): details the service raises
_DETAILS: list[tuple[re.Pattern[str], tuple[str, str]]] = [
    (
        re.compile(r"^no (nightly run|follow-up|pin) "),
        ("找不到这条记录，可能已被删除或链接有误。", "No such record; it may have been removed."),
    ),
    (
        re.compile(
            r"^no (worker|vacancy|employer|run|pin) with id '?([^']*)'?|^no (worker|vacancy|employer|run|pin) (\S+)"
        ),
        ("找不到这条记录（{1}{3}），可能已被删除或编号有误。", "No such record ({1}{3})."),
    ),
    (
        re.compile(r"outside your region"),
        (
            "这位劳动力不在您负责的地区内；请联系所在地区的就业专员或管理员。",
            "Outside your region; ask that region's officer or an admin.",
        ),
    ),
    (
        re.compile(r"belongs to another employer|your key (belongs|posts)"),
        ("这条记录属于其他企业，您不能查看或修改。", "This record belongs to another employer."),
    ),
    (
        re.compile(r"officers and admins only|for officers"),
        ("此页面仅供就业专员和管理员使用。", "For placement officers and admins only."),
    ),
    (
        re.compile(r"employers and admins only"),
        ("此页面仅供用工企业和管理员使用。", "For employers and admins only."),
    ),
    (
        re.compile(r"no model|model", re.I),
        (
            "推荐模型暂时不可用：管理员需要先训练并启用模型（jobmatch train）。",
            "No recommendation model is loaded yet: an admin trains one with jobmatch train.",
        ),
    ),
]


def detail_message(status: int, detail: Any, lang: str = "zh") -> str:
    """An HTTP error's detail as a sentence for a page (no English code words)."""
    i = _index(lang)
    if isinstance(detail, list):
        return " ".join(error_message(d, lang) for d in detail if isinstance(d, Mapping))
    text = str(detail or "")
    for pattern, words in _DETAILS:
        m = pattern.search(text)
        if m:
            groups = [g or "" for g in m.groups()]
            return words[i].format(*groups)
    if i == 1 and text:
        return text
    title = STATUS_TITLES.get(status, ("出错了", "Something went wrong"))[i]
    return f"{title}。" if i == 0 else title


def status_title(status: int, lang: str = "zh") -> str:
    return STATUS_TITLES.get(status, ("出错了", "Something went wrong"))[_index(lang)]
