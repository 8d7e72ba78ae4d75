"""Synthetic personal data: names, phone numbers, identity-card numbers.

Everything here is fake by construction. Names are drawn from common surnames
and given-name characters (Tibetan and Yi names for speakers of those languages);
phone numbers use the 170/171 virtual-operator prefixes; identity numbers follow
the GB 11643 layout (county code, birth date, sequence, check digit) so that
format checks pass, but the birth day and the sequence are random.
"""

from __future__ import annotations

import numpy as np

HAN_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
)
HAN_GIVEN_M = list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欢阳建国文亮成志")
HAN_GIVEN_F = list("芳娜敏静丽艳娟霞秀英玲桂兰萍红梅琴云莲燕婷雪倩慧月凤春花琳洁蓉丹")
TIBETAN_M = [
    "扎西",
    "次仁",
    "格桑",
    "达瓦",
    "旦增",
    "尼玛",
    "平措",
    "多吉",
    "洛桑",
    "索朗",
    "贡布",
    "加措",
]
TIBETAN_F = [
    "卓玛",
    "央金",
    "拉姆",
    "措姆",
    "德吉",
    "次珍",
    "白玛",
    "曲珍",
    "普赤",
    "桑姆",
    "央宗",
    "巴桑",
]
YI_SURNAMES = [
    "吉克",
    "阿西",
    "曲比",
    "沙马",
    "阿尔",
    "吉伍",
    "俄木",
    "马海",
    "阿苦",
    "海来",
    "吉布",
    "勒古",
]
YI_GIVEN_M = ["日火", "木呷", "伍各", "石布", "拉则", "尔古", "阿木", "子哈", "克哈", "约布"]
YI_GIVEN_F = ["阿呷", "阿果", "阿依", "阿芝", "史莫", "尔作", "子莫", "阿各", "伍嫫", "日嫫"]

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> np.ndarray:
    return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]


def make_names(rng: np.random.Generator, female: np.ndarray, language: np.ndarray) -> np.ndarray:
    """Names for workers; ``language`` is the minority language spoken ('' for none)."""
    n = len(female)
    sur = _pick(rng, HAN_SURNAMES, n)
    g1 = np.where(female, _pick(rng, HAN_GIVEN_F, n), _pick(rng, HAN_GIVEN_M, n))
    g2 = np.where(female, _pick(rng, HAN_GIVEN_F, n), _pick(rng, HAN_GIVEN_M, n))
    two = rng.random(n) < 0.6
    han = sur + np.where(two, g1 + g2, g1)
    t1 = np.where(female, _pick(rng, TIBETAN_F, n), _pick(rng, TIBETAN_M, n))
    t2 = np.where(rng.random(n) < 0.5, _pick(rng, TIBETAN_M, n), _pick(rng, TIBETAN_F, n))
    tibetan = np.where(rng.random(n) < 0.7, t1 + t2, t1)
    yi = _pick(rng, YI_SURNAMES, n) + np.where(
        female, _pick(rng, YI_GIVEN_F, n), _pick(rng, YI_GIVEN_M, n)
    )
    out = np.where(language == "bo", tibetan, np.where(language == "ii", yi, han))
    return out.astype(object)


def make_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mobile numbers in the 170/171 virtual-operator ranges (fake)."""
    prefix = np.where(rng.random(n) < 0.5, "170", "171")
    body = rng.integers(0, 10**8, n)
    return np.char.add(prefix, np.char.zfill(body.astype(str), 8)).astype(object)


def make_id_numbers(
    rng: np.random.Generator, county: np.ndarray, birth_year: np.ndarray, female: np.ndarray
) -> np.ndarray:
    """18-character identity numbers: county code, birth date, sequence (odd for men), check."""
    n = len(county)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    seq = rng.integers(0, 500, n) * 2 + np.where(female, 0, 1)
    body = np.char.add(
        np.char.add(county.astype(str), birth_year.astype(str)),
        np.char.add(
            np.char.add(np.char.zfill(month.astype(str), 2), np.char.zfill(day.astype(str), 2)),
            np.char.zfill(seq.astype(str), 3),
        ),
    )
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - 48
    check = _ID_CHECK[(digits.astype(int) @ _ID_WEIGHTS) % 11]
    return np.char.add(body, check).astype(object)
