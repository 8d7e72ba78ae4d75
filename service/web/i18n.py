"""The web interface's words in Chinese (default) and English.

``translator(lang)`` returns ``t(key, **fields)``; a key missing from the dictionary
is shown as itself, so a forgotten entry is visible rather than fatal. Other page
owners add their words with :func:`add` at import time (e.g. the nightly pages).
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "jobmatch_lang"

#: key -> (Chinese, English)
WORDS: dict[str, tuple[str, str]] = {
    "app_name": ("就业帮扶岗位匹配", "jobmatch — rural labour transfer matching"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "login_intro": (
        "请粘贴您的 API 密钥（由管理员用 jobmatch keys create 创建）。",
        "Paste your API key (an admin creates it with jobmatch keys create).",
    ),
    "api_key": ("API 密钥", "API key"),
    "bad_key": ("密钥无效或已吊销。", "Unknown or revoked key."),
    "dashboard": ("工作台", "Dashboard"),
    "workers": ("劳动力", "Workers"),
    "worker": ("劳动力", "Worker"),
    "vacancies": ("岗位", "Vacancies"),
    "vacancy": ("岗位", "Vacancy"),
    "my_vacancies": ("我的岗位", "My vacancies"),
    "post_vacancy": ("发布岗位", "Post a vacancy"),
    "nightly": ("夜间匹配计划", "Nightly plan"),
    "api_docs": ("接口文档", "API docs"),
    "logged_in_as": ("当前身份", "Logged in as"),
    "role_admin": ("管理员", "admin"),
    "role_officer": ("就业专员", "placement officer"),
    "role_employer": ("用工企业", "employer"),
    "workers_by_county": ("按县统计劳动力", "Workers by county"),
    "county": ("县（区）", "County"),
    "count": ("人数", "Count"),
    "active": ("在册", "active"),
    "search": ("搜索", "Search"),
    "search_workers": ("查找劳动力", "Find workers"),
    "skill_text": ("技能关键词", "Skill text"),
    "region_prefix": ("地区代码前缀", "Region code prefix"),
    "status": ("状态", "Status"),
    "any": ("全部", "any"),
    "results": ("结果", "Results"),
    "no_results": ("没有结果。", "No results."),
    "name": ("姓名", "Name"),
    "phone": ("电话", "Phone"),
    "id_number": ("身份证号", "ID number"),
    "gender": ("性别", "Gender"),
    "birth_year": ("出生年份", "Birth year"),
    "age_band": ("年龄段", "Age band"),
    "home_region": ("户籍地", "Home county"),
    "education": ("文化程度", "Education"),
    "languages": ("语言", "Languages"),
    "skills": ("技能", "Skills"),
    "work_history": ("工作经历", "Work history"),
    "certificates": ("证书", "Certificates"),
    "labor_capacity": ("劳动能力", "Labour capacity"),
    "mobility": ("流动意愿", "Mobility"),
    "expected_wage": ("期望月薪", "Expected wage"),
    "household_status": ("家庭帮扶状态", "Household status"),
    "recommendations": ("推荐岗位", "Recommended vacancies"),
    "candidates": ("候选人", "Candidates"),
    "score": ("匹配度", "Score"),
    "reasons": ("推荐理由", "Reasons"),
    "warnings": ("注意事项", "Warnings"),
    "model_version": ("模型版本", "Model version"),
    "no_model": ("暂无推荐", "No recommendations"),
    "record_outcome": ("记录结果", "Record an outcome"),
    "event": ("结果", "Outcome"),
    "occurred_at": ("发生时间", "When"),
    "save": ("保存", "Save"),
    "saved": ("已保存。", "Saved."),
    "outcome_saved": ("结果已记录。", "Outcome recorded."),
    "title": ("岗位名称", "Title"),
    "description": ("岗位描述", "Description"),
    "occupation_code": ("职业代码", "Occupation code"),
    "occupation": ("职业", "Occupation"),
    "occupation_inferred": ("由系统根据名称推断", "inferred from the title"),
    "region": ("工作地区代码", "Region code"),
    "region_code": ("地区代码", "Region code"),
    "headcount": ("招聘人数", "Headcount"),
    "wage_min": ("最低月薪", "Minimum wage"),
    "wage_max": ("最高月薪", "Maximum wage"),
    "required_skills": ("技能要求（分号分隔）", "Required skills (; separated)"),
    "min_age": ("最小年龄", "Minimum age"),
    "max_age": ("最大年龄", "Maximum age"),
    "housing": ("提供住宿", "Housing"),
    "meals": ("提供餐食", "Meals"),
    "labor_contract": ("签订劳动合同", "Labour contract"),
    "social_insurance": ("缴纳社保", "Social insurance"),
    "channel": ("就业渠道", "Channel"),
    "closes_at": ("截止日期", "Closes"),
    "vacancy_id": ("岗位编号", "Vacancy id"),
    "worker_id": ("劳动力编号", "Worker id"),
    "employer_id": ("企业编号", "Employer id"),
    "close_vacancy": ("关闭岗位", "Close vacancy"),
    "fix_errors": ("请更正标出的字段。", "Please correct the marked fields."),
    "vacancy_posted": ("岗位已发布。", "Vacancy posted."),
    "candidate_ref": ("候选人代号", "Candidate ref"),
    "experience": ("工作经历", "Experience"),
    "privacy_note": (
        "为保护隐私，候选人的姓名、电话、身份证号和出生日期不会向企业显示；如需联系请通过就业专员。",
        "For privacy, candidates' names, phones, ID numbers and birth dates are not shown to "
        "employers; contact them through the placement office.",
    ),
    "not_found": ("未找到", "Not found"),
    "forbidden": ("无权访问", "Not allowed"),
    "back": ("返回", "Back"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "open": ("招聘中", "open"),
    "filled": ("已满", "filled"),
    "closed": ("已关闭", "closed"),
    "view": ("查看", "View"),
    "open_vacancies": ("在招岗位", "Open vacancies"),
    "welcome_admin": (
        "管理员可查看全部劳动力与岗位，并可在接口文档中管理企业与密钥。",
        "Admins see every worker and vacancy; employers and keys are managed in the API docs.",
    ),
    "employers": ("企业", "Employers"),
    "total": ("合计", "Total"),
    "page": ("页", "page"),
    "next": ("下一页", "Next"),
    "prev": ("上一页", "Previous"),
}


def add(words: dict[str, tuple[str, str]]) -> None:
    """Register more words (key -> (Chinese, English)); existing keys are kept."""
    for key, pair in words.items():
        WORDS.setdefault(key, pair)


def normalise_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **fields)`` in ``lang``; unknown keys come back as themselves."""
    index = LANGS.index(normalise_lang(lang))

    def t(key: str, **fields: object) -> str:
        pair = WORDS.get(key)
        text = pair[index] if pair else key
        return text.format(**fields) if fields else text

    return t
