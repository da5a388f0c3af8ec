"""Small corpora written on the fly in the published layouts of KsponSpeech and Zeroth-Korean."""
from pathlib import Path

import numpy as np
import soundfile as sf
from models import speechlike

# KsponSpeech transcripts carrying every convention, with what prepare makes of them (pronunciation, spelling)
KSPON_TEXTS = {
    "KsponSpeech_000001": ("o/ 근데 (70%)/(칠십 퍼센트)가 b/ 넘었어.", "근데 칠십 퍼센트가 넘었어", "근데 70가 넘었어"),
    "KsponSpeech_000002": ("아/ 그거* 그+ 그거 l/ 했어? n/", "아 그거 그 그거 했어", "아 그거 그 그거 했어"),
    "KsponSpeech_000003": ("u/ 음/ (3G)/(쓰리지) 폰으로 해", "음 쓰리지 폰으로 해", "음 3G 폰으로 해"),
    "KsponSpeech_000004": ("b/ 네 OK 알겠어요", "네 OK 알겠어요", "네 OK 알겠어요"),
}
KSPON_EVAL = {"KsponSpeech_E00001": ("어/ 오늘 날씨가 좋네요.", "어 오늘 날씨가 좋네요", "어 오늘 날씨가 좋네요")}


def write_pcm(path: Path, seconds: float, seed: int) -> np.ndarray:
    samples = (speechlike(seconds, seed) * 20000).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    samples.tofile(path)
    return samples


def kspon_tree(root: Path, seconds: float = 1.2, broken: bool = True) -> Path:
    """KsponSpeech's layout: KsponSpeech_01/KsponSpeech_0001/*.pcm beside CP949 *.txt, the eval set, and the
    official lists in KsponSpeech_scripts/ (UTF-8, ``PATH :: TEXT``). With ``broken``: a .pcm of odd length,
    a .pcm without a transcript, and a transcript that is neither CP949 nor UTF-8."""
    folder = root / "KsponSpeech_01" / "KsponSpeech_0001"
    for number, (name, (raw, _, _)) in enumerate(KSPON_TEXTS.items()):
        write_pcm(folder / f"{name}.pcm", seconds, number)
        (folder / f"{name}.txt").write_bytes((raw + "\n").encode("cp949"))
    for name, (raw, _, _) in KSPON_EVAL.items():
        write_pcm(root / "KsponSpeech_eval" / "eval_clean" / f"{name}.pcm", seconds, 9)
        (root / "KsponSpeech_eval" / "eval_clean" / f"{name}.txt").write_bytes(raw.encode("cp949"))
    scripts = root / "KsponSpeech_scripts"
    scripts.mkdir()
    ids = list(KSPON_TEXTS)
    for split, names in (("train", ids[:3]), ("dev", ids[3:])):
        (scripts / f"{split}.trn").write_text("".join(
            f"KsponSpeech_01/KsponSpeech_0001/{n}.pcm :: {KSPON_TEXTS[n][0]}\n" for n in names), encoding="utf-8")
    (scripts / "eval_clean.trn").write_text("".join(
        f"KsponSpeech_eval/eval_clean/{n}.pcm :: {raw}\n" for n, (raw, _, _) in KSPON_EVAL.items()), encoding="utf-8")
    if broken:
        (folder / "KsponSpeech_000005.pcm").write_bytes(b"\x00\x01\x02")            # odd length
        (folder / "KsponSpeech_000005.txt").write_bytes("네".encode("cp949"))
        write_pcm(folder / "KsponSpeech_000006.pcm", seconds, 6)                    # no transcript
        write_pcm(folder / "KsponSpeech_000007.pcm", seconds, 7)
        (folder / "KsponSpeech_000007.txt").write_bytes(b"\xff\xfe\x80\x81 \xc8")   # neither CP949 nor UTF-8
    return root


ZEROTH_TEXTS = {"train": {"106_003_0001": "그는 괜찮은 척하려고 애썼다", "106_003_0002": "오늘은 비가 온다"},
                "test": {"104_001_0001": "지하철 역이 어디에 있나요"}}


def zeroth_tree(root: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """Zeroth-Korean's layout: {train,test}_data_01/SPEAKER/CHAPTER/ with *.trans.txt beside *.flac; one
    utterance of the test list has no audio."""
    for split, texts in ZEROTH_TEXTS.items():
        first = next(iter(texts))
        speaker, chapter = first.split("_")[:2]
        folder = root / f"{split}_data_01" / chapter / speaker
        folder.mkdir(parents=True)
        lines = []
        for number, (utterance, text) in enumerate(texts.items()):
            sf.write(folder / f"{utterance}.flac", speechlike(seconds, number, rate), rate)
            lines.append(f"{utterance} {text}")
        if split == "test":
            lines.append(f"{speaker}_{chapter}_0009 소리 파일이 없는 문장")
        (folder / f"{speaker}_{chapter}.trans.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
