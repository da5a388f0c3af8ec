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
        "카드로 계산할게요",
        "봉투 필요하세요",
        f"{item} 있어요",
        "영수증 드릴까요",
        f"{item} 하나하고 {r.choice(ITEMS)} 두 개 주세요",
        "할인 카드 있으세요",
        # transport
        f"{place}까지 가 주세요",
        f"{sino(r.randint(1, 9999))} 번 버스 어디서 타요",
        f"다음 역은 {place}입니다",
        f"{place} 가는 기차는 {native(r.randint(1, 12))} 시 {sino(r.randint(1, 59))} 분에 출발합니다",
        f"이번 정류장은 {place} 앞입니다",
        "내리실 문은 오른쪽입니다",
        f"{place}에서 {sino(r.randint(1, 9))} 호선으로 갈아타세요",
        # call centre
        "상담원 연결해 주세요",
        f"고객님 전화번호는 {digits(phone[:3])} {digits(phone[3:7])} {digits(phone[7:])} 입니다",
        f"주문 번호 {digits(str(r.randint(1000, 99999)))} 확인해 주세요",
        f"{name} 고객님 맞으십니까",
        "잠시만 기다려 주십시오",
        f"환불은 {sino(r.randint(2, 14))} 일 정도 걸립니다",
        f"예약을 {sino(r.randint(1, 12))} 월 {sino(r.randint(1, 31))} 일로 변경하고 싶어요",
        "통화 연결이 원활하지 않습니다",
        # in-car
        "에어컨 켜 줘",
        f"온도를 {sino(r.randint(16, 30))} 도로 맞춰 줘",
        f"{place}까지 길 안내해 줘",
        f"라디오 {sino(r.randint(88, 107))} 점 {sino(r.randint(1, 9))} 으로 바꿔 줘",
        "창문 열어 줘",
        f"{name}에게 전화 걸어 줘",
        f"볼륨 {sino(r.randint(1, 30))} 으로 올려 줘",
        "가장 가까운 주유소 찾아 줘",
        "음악 꺼 줘",
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


# --- natural text: konlpy's corpora, kiwipiepy-joined templates, Faker ko_KR names and addresses ---

_NUMBER = re.compile(r"\d+")


def spell_numbers(text: str) -> str:
    """Digits read out: runs of up to 12 digits in sino-Korean (1948 -> 천구백사십팔), longer runs digit by digit."""
    return _NUMBER.sub(lambda m: " " + (sino(int(m.group())) if len(m.group()) <= 12 else digits(m.group())) + " ",
                       text.replace("·", " ").replace("⋅", " "))


def _clauses(sentence: str, max_syllables: int) -> list[str]:
    """``sentence`` cut at commas into pieces of at most ``max_syllables`` Hangul syllables (greedy)."""
    out, cur = [], ""
    for part in sentence.split(","):
        cand = f"{cur} {part}" if cur else part
        if len(normalize(cand).replace(" ", "")) <= max_syllables:
            cur = cand
        else:
            if cur:
                out.append(cur)
            cur = part
    return out + [cur]


def corpus_documents() -> dict[str, str]:
    """konlpy's bundled text (the constitution and ten bills), read from the package's files; the bills'
    hard line breaks (often inside words) are joined and their comparison tables dropped."""
    import importlib.resources
    root = importlib.resources.files("konlpy") / "data" / "corpus"
    docs = {"constitution": (root / "kolaw" / "constitution.txt").read_text(encoding="utf-8")}
    for f in sorted(root.joinpath("kobill").iterdir(), key=lambda p: p.name):
        body = re.split(r"신\s*[·ㆍ⋅]?\s*구\s*조문\s*대비표", f.read_text(encoding="utf-8"))[0]
        lines = [ln for ln in body.split("\n") if ln.strip() and "--" not in ln]
        docs[f.name.split(".")[0]] = "".join(lines)
    return docs


def corpus_sentences(document: str, min_syllables: int = 6, max_syllables: int = 45) -> list[str]:
    """Sentences of ``document`` (parentheses, article marks and circled numbers removed, numbers spelled out),
    long ones cut at commas; each Hangul only, ``min_syllables``..``max_syllables`` long."""
    document = re.sub(r"\([^)]*\)|[①-⑳]|「|」|｢|｣|“|”", " ", document)
    out = []
    for sentence in re.split(r"(?<=[다함임음])\.|\n", document):
        if re.search(r"[A-Za-z\u4e00-\u9fff]", sentence):
            continue
        for piece in _clauses(spell_numbers(sentence), max_syllables):
            s = normalize(piece)
            if min_syllables <= len(s.replace(" ", "")) <= max_syllables:
                out.append(s)
    return list(dict.fromkeys(out))


def corpus_split(heldout_share: float = 0.15) -> tuple[list[str], list[str]]:
    """(train, heldout) corpus sentences: the last ``heldout_share`` of every document is held out, and no
    held-out sentence occurs in train."""
    train, held = [], []
    for doc in corpus_documents().values():
        ss = corpus_sentences(doc)
        k = max(1, round(len(ss) * heldout_share))
        train += ss[:-k]
        held += ss[-k:]
    held = list(dict.fromkeys(held))
    held_set = set(held)
    return [s for s in dict.fromkeys(train) if s not in held_set], held


# morphemes for kiwipiepy to join: (form, tag); particles and endings get the right allomorph from Kiwi.join
_SUBJECTS = ["친구", "동생", "선생님", "아버지", "어머니", "손님", "기사님", "학생", "아이", "우리 팀", "고객", "직원",
             "할머니", "사장님", "이웃", "언니", "형", "누나", "오빠", "의사"]
_OBJECTS = ["책", "밥", "사과", "편지", "숙제", "영화", "음악", "물", "신문", "사진", "옷", "가방", "표", "케이크",
            "커피", "김치", "자전거", "컴퓨터", "약", "전화", "선물", "우산", "창문", "문", "차"]
_PLACES = ["학교", "회사", "집", "시장", "병원", "공원", "도서관", "식당", "역", "은행", "우체국", "바다", "산",
           "공항", "카페", "마트", "교회", "시청", "약국", "미용실"]
_TIMES = ["오늘", "어제", "내일", "아침", "저녁", "주말", "방금", "요즘", "작년", "지난주", "다음 달", "새벽"]
_TRANSITIVE = ["읽", "먹", "보", "사", "쓰", "찾", "만들", "마시", "닫", "열", "받", "잃어버리", "빌리", "고치", "팔",
               "좋아하", "기다리", "준비하", "씻", "챙기"]
_MOTION = ["가", "오", "돌아가", "다니", "들르", "도착하"]
_ENDINGS = [[("었", "EP"), ("어요", "EF")], [("어요", "EF")], [("었", "EP"), ("습니다", "EF")], [("습니다", "EF")],
            [("고", "EC"), ("싶", "VX"), ("어요", "EF")], [("어야", "EC"), ("하", "VX"), ("어요", "EF")], [("지", "EC"), ("않", "VX"), ("았", "EP"), ("어요", "EF")],
            [("었", "EP"), ("지", "EF")], [("으세요", "EF")], [("을까요", "EF")], [("었", "EP"), ("나요", "EF")]]


def kiwi_sentence(r: random.Random, kiwi) -> str:
    """A subject-(time)-object/place-verb sentence whose particles and endings Kiwi joins."""
    subject_particle = ("이", "JKS") if r.random() < 0.5 else (r.choice(["은", "도"]), "JX")
    morphs = [(r.choice(_SUBJECTS), "NNG"), subject_particle]
    if r.random() < 0.5:
        morphs.append((r.choice(_TIMES), "NNG"))
    if r.random() < 0.6:
        morphs += [(r.choice(_OBJECTS), "NNG"), ("을", "JKO"), (r.choice(_TRANSITIVE), "VV")]
    else:
        morphs += [(r.choice(_PLACES), "NNG"), (r.choice(["에", "으로", "까지"]), "JKB"), (r.choice(_MOTION), "VV")]
    return normalize(kiwi.join(morphs + r.choice(_ENDINGS)))


def _ro(word: str) -> str:
    """``word`` + the particle 로 or 으로 (으로 after a final consonant other than ㄹ)."""
    final = (ord(word[-1]) - 0xAC00) % 28 if "가" <= word[-1] <= "힣" else 0
    return word + ("로" if final in (0, 8) else "으로")


def _say_address(address: str) -> str:
    """A Faker address read out: numbers spelled, ``-`` read as 다시, parenthesised parts dropped."""
    return spell_numbers(re.sub(r"\([^)]*\)", " ", address).replace("-", " 다시 "))


def faker_phrase(r: random.Random, fake) -> str:
    """Call-centre, delivery and in-car phrases with Faker ko_KR names, addresses, companies and jobs."""
    name, company, city = fake.name(), fake.company(), fake.city()
    address, street, job = _say_address(fake.address()), fake.street_name(), fake.job()
    phone = "010" + "".join(str(r.randint(0, 9)) for _ in range(8))
    templates = [
        f"{name} 고객님 본인 맞으신가요",
        f"배송지는 {address} 맞으십니까",
        f"주소를 {_ro(normalize(address))} 변경해 주세요",
        f"{company} 고객센터입니다 무엇을 도와드릴까요",
        f"{company}의 {name} 대리입니다",
        f"{name} 님께 전화 연결해 드리겠습니다",
        f"{name}에게 문자 보내 줘",
        f"{street}까지 가는 가장 빠른 길 알려 줘",
        f"{city}까지 얼마나 걸려",
        f"목적지를 {_ro(normalize(address))} 설정했습니다",
        f"{name} 님 연락처는 {digits(phone[:3])} {digits(phone[3:7])} {digits(phone[7:])} 입니다",
        f"저는 {company}에서 {_ro(normalize(job))} 일하고 있습니다",
        f"{city}에 사는 {name}입니다",
        f"택배가 {_ro(normalize(address))} 잘못 배송되었어요",
        f"{street} 근처 주차장 찾아 줘",
        f"{name} 님의 예약이 {sino(r.randint(1, 12))} 월 {sino(r.randint(1, 31))} 일로 확인되었습니다",
    ]
    return normalize(spell_numbers(r.choice(templates)))


def natural_sentences(n_kiwi: int, n_faker: int, seed: int = 0) -> list[str]:
    """``n_kiwi`` Kiwi-joined template sentences and ``n_faker`` Faker phrases, distinct, seeded."""
    from faker import Faker
    from kiwipiepy import Kiwi
    r = random.Random(seed + 5)
    fake = Faker("ko_KR")
    fake.seed_instance(seed)
    kiwi = Kiwi()
    out = []
    for count, make in ((n_kiwi, lambda: kiwi_sentence(r, kiwi)), (n_faker, lambda: faker_phrase(r, fake))):
        seen, tries = set(), 0
        while len(seen) < count and tries < 20 * count:
            tries += 1
            s = make()
            if s and s not in seen:
                seen.add(s)
                out.append(s)
    return out
