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
    "occupation_corrected": (
        "职业代码已更正，下次训练时系统会学习这条更正。",
        "Occupation code corrected; the next training learns from it.",
    ),
    "correct_occupation": ("更正职业代码", "Correct the occupation code"),
    "occupation_suggested": ("系统建议：", "Suggested:"),
    "f_correction_text": ("技能或工作经历中的一句", "A line of the skills or work history"),
    "f_correction_code": ("正确的职业代码", "The right occupation code"),
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
    "fix_errors": ("请更正以下内容后再提交：", "Please correct the following:"),
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
    "home": ("首页", "Home"),
    "to_replace": ("待重新安置", "To be re-placed"),
    "monitored_unplaced": ("监测户尚未安置", "Monitored households not yet placed"),
    "unplaced_with_open_seat": (
        "未安置但有符合条件的空岗位的人数",
        "Unplaced workers beside an empty seat they qualify for",
    ),
    "unplaced_group": ("同村组团未能整体安置", "group could not be placed together"),
    "unplaced_household": (
        "一户一岗：家中已有公益性岗位",
        "household already holds a welfare post",
    ),
    "unplaced_zero_score": ("成功机会近乎为零", "chance too small to count"),
    "unplaced_unexplained": ("原因不明（计划缺陷）", "unexplained (a defect of the plan)"),
    "open_seats_without_candidate": ("无候选人的空岗位占比", "Open seats with no candidate"),
    "seats_left_empty": ("计划后仍空的岗位数", "Seats the plan leaves empty"),
    "gini_candidates": ("推荐集中度（基尼系数）", "Gini of recommendations per vacancy"),
    "gini_placements": ("安置集中度（基尼系数）", "Gini of placements per vacancy"),
    "search_hint": ("姓名、电话、身份证号、编号或技能", "Name, phone, ID number, id or skill"),
    "search_placeholder": ("如：扎西 / 139… / 焊工", "e.g. a name, a phone, 焊工"),
    "whole_region": ("全部辖区", "the whole region"),
    "search_audited": (
        "按姓名、电话或身份证号查找会记入审计日志；只能查到本辖区的劳动力。",
        "Searches by name, phone or ID number are audited and limited to your region.",
    ),
    "export_csv": ("导出 CSV（Excel 可打开）", "Export CSV (opens in Excel)"),
    "showing_first": (
        "仅显示前 {n} 条，请缩小搜索范围。",
        "Showing the first {n}; narrow the search.",
    ),
    "no_workers_found": (
        "没有找到符合条件的劳动力：请检查姓名或电话是否有误，或换一个县、一个技能词再试。",
        "Nobody matches: check the name or phone, or try another county or skill.",
    ),
    "what_happened": ("情况", "What happened"),
    "none_to_replace": (
        "目前没有需要重新安置的劳动力（记录“已离职”“被拖欠工资”或“工伤”后会出现在这里）。",
        "Nobody to re-place (workers appear here after left, wage arrears or injury).",
    ),
    "none_monitored": (
        "辖区内的监测户劳动力都已安置。",
        "Every worker of a monitored household in your region has been placed.",
    ),
    "placements_by_month": ("各月录用与在岗满 3 个月人数", "Hires and 3-month retention by month"),
    "hired_n": ("录用 {n} 人", "{n} hired"),
    "retained_n": ("在岗满 3 个月 {n} 人", "{n} still there after 3 months"),
    "chart_note": (
        "按事件发生月份统计本辖区劳动力；每月两个数字为“录用 / 在岗满 3 个月”。",
        "Workers of your region by month of the event; the numbers are hired / retained.",
    ),
    "no_placements_yet": (
        "近几个月还没有录用记录；在劳动力页面记录“已录用”后会出现在这里。",
        "No hires recorded recently; record one on a worker's page.",
    ),
    "no_workers_registered": (
        "本辖区还没有登记劳动力：请用 jobmatch import 导入，或通过接口登记。",
        "No workers registered in your region yet: import them with jobmatch import.",
    ),
    "works_at": ("在岗", "In work at"),
    "since": ("起始", "since"),
    "needs_replacement_note": (
        "待重新安置（原因：{reason}）：请从下面的推荐岗位中为其挑选新岗位。",
        "To be re-placed ({reason}): choose a new vacancy from the recommendations below.",
    ),
    "fu_overdue": ("逾期未回访", "Follow-ups overdue"),
    "fu_due_today": ("今天要回访", "Follow-ups due today"),
    "fu_title": ("回访：已逾期和 7 天内到期", "Follow-ups: overdue and due within 7 days"),
    "fu_title_worker": ("回访安排", "Follow-up visits"),
    "fu_when": ("回访时间", "When"),
    "fu_job": ("岗位（企业）", "Job (employer)"),
    "fu_day": ("录用后第 {n} 天", "day {n} after the hire"),
    "fu_result": ("回访结果", "Findings"),
    "fu_record": ("记录回访结果", "Record the visit"),
    "fu_still_employed": ("仍在岗？", "Still in the job?"),
    "fu_paid": ("工资按时足额发放？", "Paid in full and on time?"),
    "fu_left_reason": ("如已离岗，原因", "If gone, why"),
    "fu_none": (
        "7 天内没有到期的回访。记录“已录用”后，系统会在第 7、30、90、180 天安排回访。",
        "No follow-up due within 7 days. Recording a hire schedules visits at 7, 30, 90 and 180 days.",
    ),
    "yes_in_work": ("仍在岗", "still in the job"),
    "not_in_work": ("已不在岗", "no longer in the job"),
    "latest_plan": ("最新计划", "Latest plan"),
    "no_placements_in_plan": ("这份计划没有安排任何人。", "This plan places nobody."),
    "run_failed_note": (
        "这次计算失败了，计划未更新；请管理员查看服务日志后重新运行。",
        "This run failed and the plan was not updated; an admin should check the log.",
    ),
    "active_workers_note": (
        "参与计划的求职者（求职中和待重新安置的人）。",
        "Job-seekers the plan considered (seeking work or to be re-placed).",
    ),
    "seats_note": (
        "当时所有在招岗位还空着的名额。",
        "Open seats of every open vacancy at the time.",
    ),
    "placed_note": ("计划为其安排了一个岗位的人数。", "Workers the plan gives a vacancy."),
    "expected_stable_note": (
        "如果按计划推荐，预计能稳定就业的人数：每个安排的“报名×录用×留任”可能性相加。",
        "Stable placements to expect if the plan is proposed: the sum over planned pairs "
        "of P(apply) × P(hire) × P(stay).",
    ),
    "monitored_rate_note": (
        "监测户劳动力中被安排了岗位的比例。",
        "Share of workers of monitored households given a vacancy.",
    ),
    "other_rate_note": (
        "其他劳动力中被安排了岗位的比例。",
        "Share of the other workers given a vacancy.",
    ),
    "figures_scope_note": (
        "以上数字是整份计划（全部地区）的；下表只列您辖区的劳动力。",
        "The figures are for the whole plan (every region); the table lists your region.",
    ),
    "your_rows": ("{region}的安排", "Placements for {region}"),
    "decide_note": (
        "“采纳”：下次计划会保留这一安排（名额允许时）；“排除”：下次计划不再安排这一对；"
        "两者都会记录是谁做的决定。",
        "Accept keeps the pair in the next plans (seats permitting); exclude keeps it out.",
    ),
    "decision": ("处理", "Decision"),
    "accept": ("采纳", "Accept"),
    "exclude": ("排除", "Exclude"),
    "undo": ("撤销", "Undo"),
    "decided_pin": ("已采纳", "accepted"),
    "decided_exclude": ("已排除", "excluded"),
    "pin_honoured": ("是否照办", "Honoured"),
    "plan_empty_region": (
        "这份计划没有给您辖区的劳动力安排岗位：可能是辖区内没有求职者，或没有他们符合条件的在招岗位。"
        "计划每晚按当时的求职者和在招岗位自动重新计算。",
        "The plan gives nobody of your region a vacancy: no job-seekers, or no open vacancy "
        "they are eligible for. The plan is recomputed every night.",
    ),
    "grp_weak_home": ("半/弱劳力·不能外出", "semi/weak, home-bound"),
    "grp_weak_mobile": ("半/弱劳力·可外出", "semi/weak, mobile"),
    "grp_full_home": ("全劳力·不能外出", "full, home-bound"),
    "grp_full_mobile": ("全劳力·可外出", "full, mobile"),
    "plan_diagnostics": ("计划检查", "Plan diagnostics"),
    "open_seats_without_candidate_note": (
        "没有任何求职者符合条件的空缺名额所占比例：这些岗位需要放宽条件或到别处招人。",
        "Open seats no job-seeker is eligible for: they need wider rules or other workers.",
    ),
    "seats_left_empty_note": ("计划安排之后仍然空着的名额。", "Seats still empty after the plan."),
    "gini_note": (
        "0 表示分布完全均匀，越接近 1 越集中在少数岗位上。",
        "0 means evenly spread; near 1, concentrated on a few vacancies.",
    ),
    "seeking_workers": ("求职中（含待重新安置）", "Seeking work (incl. to re-place)"),
    "yuan_month": ("元/月", "yuan a month"),
    "yuan": ("元", "yuan"),
    "match_explained": (
        "“第 N 位”按稳定就业的可能性排序；模型经过校准时写明机会（如“约 28% 的机会稳定就业 6 个月”），"
        "否则以本列表中最匹配的一项为参照显示推荐度（高、中、一般）。",
        "Ranked by the chance of a stable placement; a calibrated model states the chance, "
        "otherwise the level compares with the best match of the list.",
    ),
    "match": ("匹配", "Match"),
    "place": ("工作地点", "Place of work"),
    "monthly_wage": ("月薪", "Monthly wage"),
    "not_looking_note": (
        "按就业记录（在岗，或刚离职），此人现在找工作的可能性{share}，所以下面每个岗位的机会都很小。"
        "排序不受影响：若此人确实想找工作，请看每行“若在找工作”的机会。",
        "By the job record (in a job, or just left one), the chance that this worker is looking "
        "for work now is {share}, so every chance below is small. The order is the same: if "
        "the worker does want a job, read each row's chance if looking.",
    ),
    "if_looking": ("若在找工作", "If looking"),
    "household_public_post_note": (
        "同户已有成员在公益性岗位上，不再推荐公益性岗位。",
        "A member of this household holds a public-welfare post: no other is proposed.",
    ),
    "no_recommendations_why": (
        "目前没有适合此人的在招岗位：可能是岗位都已截止或招满，或不符合其流动意愿、语言、年龄要求。"
        "可放宽流动意愿后再看，或等企业发布新岗位。",
        "No open vacancy fits this worker now (deadlines passed, seats filled, or mobility, "
        "language or age rules). Widen the mobility or wait for new vacancies.",
    ),
    "choose": ("请选择", "Choose"),
    "event_date": ("日期", "Date"),
    "note": ("备注", "Note"),
    "note_placeholder": ("如：电话回访确认已到岗", "e.g. confirmed by phone"),
    "record": ("记录", "Record"),
    "f_employer_id": ("企业编号", "Employer id"),
    "f_title": ("岗位名称", "Title"),
    "f_region": ("工作地点（县、区）", "Place of work (county)"),
    "f_headcount": ("招聘人数", "Headcount"),
    "f_wage_min": ("最低月薪（元）", "Minimum monthly wage (yuan)"),
    "f_wage_max": ("最高月薪（元）", "Maximum monthly wage (yuan)"),
    "f_closes_at": ("截止日期", "Deadline"),
    "f_channel": ("就业渠道", "Channel"),
    "f_min_age": ("最小年龄", "Minimum age"),
    "f_max_age": ("最大年龄", "Maximum age"),
    "f_occupation_code": ("职业代码（可不填）", "Occupation code (optional)"),
    "f_required_skills": ("技能要求（用分号或顿号分隔）", "Required skills (separated by ;)"),
    "f_languages": ("工作语言要求", "Languages required"),
    "f_description": ("岗位描述", "Description"),
    "title_hint": ("写清工种，如“电焊工 包吃住”", "Say the trade, e.g. 电焊工 包吃住"),
    "region_placeholder": ("输入县、区名，如：南山区", "Type a county, e.g. 南山区"),
    "closes_hint": (
        "过了截止日期岗位自动显示为“已截止”",
        "After the deadline the vacancy shows as closed",
    ),
    "occupation_hint": (
        "不填时系统根据岗位名称推断职业，发布后可在岗位页查看和修改",
        "Left blank, the occupation is inferred from the title; you can change it later",
    ),
    "skills_hint": ("如：电焊；氩弧焊", "e.g. 电焊; 氩弧焊"),
    "no_vacancies_yet": (
        "您还没有发布岗位：填写下面的表格发布第一个岗位，系统会为它推荐候选人。",
        "No vacancies yet: post the first one below and candidates will be suggested.",
    ),
    "id_assigned": ("岗位编号由系统自动生成。", "The vacancy id is assigned by the system."),
    "edit_vacancy": ("修改岗位", "Edit vacancy"),
    "cancel": ("取消", "Cancel"),
    "confidence": ("把握", "confidence"),
    "posted_at": ("发布日期", "Posted"),
    "close_confirm": (
        "确定关闭这个岗位吗？关闭后不再推荐候选人。",
        "Close this vacancy? No more candidates will be suggested.",
    ),
    "no_candidates_closed": (
        "岗位已不在招聘中，因此不再推荐候选人；如需继续招聘，请修改截止日期或重新发布。",
        "The vacancy is not open, so no candidates are suggested; change the deadline to reopen it.",
    ),
    "no_candidates_why": (
        "暂时没有符合条件的候选人：可能是年龄、语言或地点要求较严，可以放宽要求后再看。"
        "新登记的劳动力会自动加入推荐。",
        "No eligible candidates yet: the age, language or place rules may be strict; "
        "newly registered workers are added automatically.",
    ),
    "years_old": ("岁", "years"),
    "back_to_vacancies": ("返回岗位列表", "Back to the vacancies"),
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
