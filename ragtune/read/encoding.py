"""Turn raw file bytes into text: UTF-8/16/32, GBK/GB18030 and Big5, without guessing wrong on short files."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path

from charset_normalizer import from_bytes

from ragtune.errors import LoadError
from ragtune.files import read_regular
from ragtune.read.limits import json_too_deep

# Frequent Han characters (top ~900 in Simplified use, plus the common Traditional forms that differ).
# Text decoded with the right codec is mostly made of these; GBK bytes read as Big5 (or the reverse)
# turn into rare characters, kana or private-use code points instead.
_COMMON_SIMPLIFIED = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里"
    "用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实"
    "日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政"
    "美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员"
    "解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件"
    "计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象"
    "完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改"
    "收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调"
    "深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企"
    "八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列"
    "武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供"
    "效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值"
    "仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳"
    "若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷"
    "洲冲射略范竟句室异激汉村哈策演简卡罪判担州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈"
    "刘读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控税左右份穿艺背阵草脚概恶块顿敢守酒岛托央"
    "户烈洋哥索胡款靠评版宝座释景顾弟登货互付伯慢欧换闻危忙核暗姐介坏讨丽良序升监临亮露永呼味野架域沙掉括"
    "舰鱼杂误湖钟哲洛卷板雨短谷练巨绍娘渐圣汽遇刀迅跑旅凭搞盘绿旁忽杨挑稳拒怒编奥散测繁谢哦嗯昨末午饭菜茶"
    "咖啡"
)
_COMMON_TRADITIONAL = (
    "這個們來為國說時會對發後過裡種現當沒動學麼還進問體開無與長機實軍見將兩間頭業關點從應戰產經樣邊電話聽"
    "讓認識視覺總數報結給變場處義條議題統區隊資親極導爭運飛風單萬隻語讀書寫買賣車門東記請謝錢錯難歡樂愛員"
    "腦師聲氣兒紅黃綠藍華歷際張陳劉楊黨務準備組織團決標確傳達觀專設計術續歲銀費價幾該臺灣測試簡漢於並網訊"
    "軟硬閱習"
)

_CJK_PUNCTUATION = "，。、；：？！「」『』（）《》〈〉【】…—‘’“”　·"
_COMMON = frozenset(_COMMON_SIMPLIFIED + _COMMON_TRADITIONAL + _CJK_PUNCTUATION)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # category Cc except \t \n \v \f \r
# Declared names that real files use loosely: browsers read them as these supersets.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "big5": "cp950",
}
# Characters of a long file that decide whether it reads plausibly as cp1252.
_SAMPLE = 100_000
# A Chinese reading must be at least this share of frequent characters to beat the generic detector.
_MIN_CJK_SCORE = 0.5


def read_file_bytes(path: str | Path) -> bytes:
    """A regular file's bytes; LoadError for anything else, an unreadable or an empty file."""
    data = read_regular(path)
    if not data.strip():
        raise LoadError(path, "empty file")
    return data


def iter_jsonl(path: str | Path, max_depth: int | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; LoadError naming the line for anything else,
    including objects nested deeper than `max_depth`."""
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(path, f"line {number}: invalid JSON ({exc.msg})") from exc
        except RecursionError:
            raise LoadError(path, f"line {number}: JSON nested too deeply") from None
        if not isinstance(record, dict):
            raise LoadError(path, f"line {number}: expected a JSON object")
        if max_depth is not None and json_too_deep(record, max_depth):
            raise LoadError(path, f"line {number}: nested deeper than {max_depth} levels (read.max_depth)")
        yield number, record


def read_text_file(path: str | Path) -> str:
    """Read a text file of any supported encoding; raise LoadError for unreadable, binary or empty files."""
    return decode_bytes(read_file_bytes(path), path)


def decode_bytes(data: bytes, path: str | Path, hint: str | None = None) -> str:
    """Decode `data` read from `path`; `hint` is an encoding the file declares itself (e.g. HTML meta)."""
    text = _decode(data, path, hint)
    if not text.strip():
        raise LoadError(path, "empty file")
    if len(_CONTROLS.findall(text)) * 50 > len(text):  # more than 2% control characters
        raise LoadError(path, "looks like a binary file")
    return text


def _decode(data: bytes, path: str | Path, hint: str | None) -> str:
    if not data.strip():
        raise LoadError(path, "empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data[len(bom) :], encoding)
            if text is not None:
                return text
            break
    if b"\0" in data:
        text = _bomless_utf16(data)
        if text is None:
            raise LoadError(path, "looks like a binary file")
        return text
    text = _strict(data, "utf-8")
    if text is not None:
        return text
    declared = _normalize(hint)
    if declared and (text := _strict(data, declared)) is not None:
        return text
    return _guess(data, path)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _normalize(hint: str | None) -> str | None:
    if not hint:
        return None
    try:
        name = codecs.lookup(hint.strip()).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):  # without a BOM such a declaration is usually wrong
        return None
    return _SUPERSETS.get(name, name)


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII-range characters put a NUL in every other byte, on one side only."""
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    if odd >= half * 0.1 and odd >= 4 * even:
        return _strict(data, "utf-16-le")
    if even >= half * 0.1 and even >= 4 * odd:
        return _strict(data, "utf-16-be")
    return None


def _cjk_score(text: str) -> float:
    """Share of frequent Han characters (and CJK punctuation) among the non-ASCII characters."""
    wide = [ch for ch in text[:20_000] if ord(ch) > 0x7F and not ch.isspace()]
    if not wide:
        return 0.0
    return sum(ch in _COMMON for ch in wide) / len(wide)


def _plausible_cp1252(data: bytes) -> str | None:
    """`data` as Windows-1252 (what browsers assume for unlabelled Western text) when it reads like it.

    The statistical detector has nothing to go on in a few accented words and picks a Central European
    or DOS codepage as often as not ("café crème" became "café crčme"). Text in another single-byte
    codepage read as cp1252 shows itself: symbols inside words (Polish "Za¿ó³æ") or words with no ASCII
    letters at all (Cyrillic "Ïðèâåò"); such text, or bytes cp1252 leaves undefined, go to the detector.
    """
    text = _strict(data, "cp1252")
    if text is None or _CONTROLS.search(text):
        return None
    letters = ascii_letters = 0
    for word in re.findall(r"\S+", text[:_SAMPLE]):
        if word.isascii():
            ascii_letters += sum(ch.isalpha() for ch in word)
            letters += sum(ch.isalpha() for ch in word)
            continue
        for before, ch, after in zip(" " + word, word, word[1:] + " "):
            if ord(ch) > 0x7F and not ch.isalpha() and before.isalpha() and after.isalpha():
                return None  # a symbol between letters: a letter of another codepage
        letters += sum(ch.isalpha() for ch in word)
        ascii_letters += sum(ch.isascii() and ch.isalpha() for ch in word)
    return text if ascii_letters * 2 >= letters else None


def _guess(data: bytes, path: str | Path) -> str:
    readings = []
    for encoding in ("gb18030", "cp950"):
        text = _strict(data, encoding)
        if text is not None:
            readings.append((_cjk_score(text), text))
    readings.sort(key=lambda r: r[0], reverse=True)  # stable: GB18030 wins a tie
    if readings and readings[0][0] >= _MIN_CJK_SCORE:
        return readings[0][1]
    western = _plausible_cp1252(data)
    if western is not None:
        return western
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    if readings:
        return readings[0][1]
    raise LoadError(path, "looks like a binary file")
