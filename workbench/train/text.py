"""Korean sentences for synthetic training data.

Three sources, all offline and seeded:
- random word sequences from ``wordfreq.top_n_list('ko', N)`` (Hangul only),
- numbers read out in Korean (sino-Korean and native counting),
- everyday phrases: shop, transport, call centre, in-car commands.

Sentences are Hangul syllables and single spaces only, so the transcript is
exactly what espeak-ng reads. ``split`` keeps a held-out set that never
appears in training.
"""
import random
import re

HANGUL_WORD = re.compile(r"[가-힣]+")
PARTICLES = ["은", "는", "이", "가", "을", "를", "에", "에서", "으로", "도", "의", "와", "하고", "까지"]

_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
_DIGIT_READ = ["공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
_NATIVE_ONES = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉"]
_NATIVE_TENS = ["", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔"]


def _below_10000(n: int) -> str:
    out = ""
    for value, unit in ((1000, "천"), (100, "백"), (10, "십")):
        d, n = divmod(n, value)
        if d:
            out += ("" if d == 1 else _DIGITS[d]) + unit
    return out + _DIGITS[n]


def sino(n: int) -> str:
    """Sino-Korean reading of 0 <= n < 10^12, e.g. 1234 -> 천이백삼십사."""
    if n == 0:
        return "영"
    parts = []
    for unit in ("억", "만", ""):
        size = {"억": 10**8, "만": 10**4, "": 1}[unit]
        d, n = divmod(n, size)
        if d:
            text = _below_10000(d)
            parts.append(("" if (unit == "만" and d == 1) else text) + unit if unit else text)
    return "".join(parts)


def native(n: int) -> str:
    """Native Korean counting form (1..99) before a counter: 3 -> 세, 21 -> 스물한."""
    tens, ones = divmod(n, 10)
    ten = _NATIVE_TENS[tens]
    if tens == 2 and ones == 0:
        ten = "스무"
    return ten + _NATIVE_ONES[ones]


def digits(s: str) -> str:
    """Digit-by-digit reading, as for phone numbers: 010 -> 공일공."""
    return "".join(_DIGIT_READ[int(c)] for c in s)


def hangul_words(n: int = 30000) -> list[str]:
    import wordfreq
    return [w for w in wordfreq.top_n_list("ko", n) if HANGUL_WORD.fullmatch(w)]


PLACES = ["서울역", "강남역", "시청", "공항", "병원", "학교", "도서관", "시장", "부산", "대전", "광주",
          "인천", "수원", "홍대", "명동", "회사", "집", "주유소", "마트", "터미널", "제주", "대구", "울산"]
ITEMS = ["커피", "우유", "빵", "사과", "라면", "물", "김밥", "과자", "주스", "케이크", "아이스크림", "콜라",
         "맥주", "두부", "계란", "바나나", "치킨", "샌드위치", "녹차", "떡볶이"]
NAMES = ["김민수", "이지은", "박서준", "최유리", "정하늘", "강동원", "윤서연", "한지민", "오세훈", "장미란"]


def _phrase(r: random.Random) -> str:
    n = r.randint(1, 99)
    won = r.choice([500, 1000, 1500, 2000, 3500, 4800, 12000, 25000, 99000, 150000]) + 100 * r.randint(0, 9)
    phone = "010" + "".join(str(r.randint(0, 9)) for _ in range(8))
    place, item, name = r.choice(PLACES), r.choice(ITEMS), r.choice(NAMES)
    templates = [
        # shop
        f"{item} {native(r.randint(1, 9))} 개 주세요",
        f"이 {item} 얼마예요",
        f"모두 {sino(won)} 원입니다",
        f"카드로 계산할게요",
        f"봉투 필요하세요",
        f"{item} 있어요",
        f"영수증 드릴까요",
        f"{item} 하나하고 {r.choice(ITEMS)} 두 개 주세요",
        f"할인 카드 있으세요",
        # transport
        f"{place}까지 가 주세요",
        f"{sino(r.randint(1, 9999))} 번 버스 어디서 타요",
        f"다음 역은 {place}입니다",
        f"{place} 가는 기차는 {native(r.randint(1, 12))} 시 {sino(r.randint(1, 59))} 분에 출발합니다",
        f"이번 정류장은 {place} 앞입니다",
        f"내리실 문은 오른쪽입니다",
        f"{place}에서 {sino(r.randint(1, 9))} 호선으로 갈아타세요",
        # call centre
        f"상담원 연결해 주세요",
        f"고객님 전화번호는 {digits(phone[:3])} {digits(phone[3:7])} {digits(phone[7:])} 입니다",
        f"주문 번호 {digits(str(r.randint(1000, 99999)))} 확인해 주세요",
        f"{name} 고객님 맞으십니까",
        f"잠시만 기다려 주십시오",
        f"환불은 {sino(r.randint(2, 14))} 일 정도 걸립니다",
        f"예약을 {sino(r.randint(1, 12))} 월 {sino(r.randint(1, 31))} 일로 변경하고 싶어요",
        f"통화 연결이 원활하지 않습니다",
        # in-car
        f"에어컨 켜 줘",
        f"온도를 {sino(r.randint(16, 30))} 도로 맞춰 줘",
        f"{place}까지 길 안내해 줘",
        f"라디오 {sino(r.randint(88, 107))} 점 {sino(r.randint(1, 9))} 으로 바꿔 줘",
        f"창문 열어 줘",
        f"{name}에게 전화 걸어 줘",
        f"볼륨 {sino(r.randint(1, 30))} 으로 올려 줘",
        f"가장 가까운 주유소 찾아 줘",
        f"음악 꺼 줘",
        # numbers
        f"{sino(r.randint(1, 10**r.randint(1, 9)))}",
        f"오늘은 {sino(r.randint(1, 12))} 월 {sino(r.randint(1, 31))} 일입니다",
        f"{native(n)} 명 예약했어요",
        f"지금 {native(r.randint(1, 12))} 시 {sino(r.randint(1, 59))} 분이에요",
        f"가격은 {sino(won)} 원이에요",
    ]
    return r.choice(templates)


def _word_sentence(r: random.Random, words: list[str]) -> str:
    out = []
    for _ in range(r.randint(2, 7)):
        # frequency-biased pick: low ranks more often, but the whole list is reachable
        w = words[min(int(r.paretovariate(0.35)) - 1, len(words) - 1)] if r.random() < 0.5 else r.choice(words)
        if len(w) >= 2 and r.random() < 0.3:
            w += r.choice(PARTICLES)
        out.append(w)
    return " ".join(out)


def normalize(text: str) -> str:
    return " ".join(HANGUL_WORD.findall(text))


def make_sentences(n: int, seed: int = 0, n_words: int = 30000, phrase_share: float = 0.4) -> list[str]:
    """``n`` distinct Hangul sentences (phrases with numbers and random word sequences)."""
    r = random.Random(seed)
    words = hangul_words(n_words)
    seen, out = set(), []
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        s = normalize(_phrase(r) if r.random() < phrase_share else _word_sentence(r, words))
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def split(sentences: list[str], n_heldout: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train, heldout); held-out sentences never occur in train."""
    r = random.Random(seed + 1)
    order = list(sentences)
    r.shuffle(order)
    heldout = order[:n_heldout]
    held = set(heldout)
    return [s for s in order[n_heldout:] if s not in held], heldout
