"""Tests for the rules-only tagger, its pattern syntax and the trafficking context."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.matcher import Matcher

from tipnlp.labels import LABELS
from tipnlp.nlp.rules import (
    RULES_VERSION,
    RuleTagger,
    compile_phrase,
    load_rules,
    negative_context,
    rule_hits,
    trafficking_context,
)
from tipnlp.nlp.types import Prediction, SentenceInput, Tagger

GOLD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gold"


@pytest.fixture(scope="module")
def tagger() -> RuleTagger:
    """One tagger for the module: compiling the patterns takes a moment."""
    return RuleTagger()


def labels_of(tagger: RuleTagger, text: str, **context: str | None) -> list[str]:
    """Labels the tagger gives one sentence."""
    return tagger.predict([SentenceInput(text=text, **context)])[0].labels  # type: ignore[arg-type]


def test_tagger_protocol_and_prediction_shape(tagger: RuleTagger) -> None:
    assert isinstance(tagger, Tagger)
    assert tagger.version == RULES_VERSION
    preds = tagger.predict(
        [
            SentenceInput(text="Police arrested two men for human trafficking."),
            SentenceInput(text="The weather was fine."),
        ]
    )
    assert len(preds) == 2
    for pred in preds:
        assert isinstance(pred, Prediction)
        assert list(pred.scores) == list(LABELS)
        assert set(pred.scores.values()) <= {0.0, 1.0}
        assert pred.thresholds == dict.fromkeys(LABELS, 0.5)
        assert pred.labels == [lab for lab in LABELS if pred.scores[lab] >= 0.5]
        assert pred.sources == dict.fromkeys(pred.labels, "rule")
        assert pred.tagger == "rules"
    assert preds[0].labels == ["arrest"]
    assert preds[1].labels == []


def test_every_label_has_a_pattern_file() -> None:
    rules = load_rules()
    assert list(rules) == list(LABELS)
    assert all(r.phrases for r in rules.values())


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('"Trafficking in persons" shall mean the recruitment of persons by force.', "definition"),
        ("The consent of a victim to the intended exploitation shall be irrelevant.", "definition"),
        (
            "Any person who recruits a child for forced labour commits an offence.",
            "criminalization",
        ),
        ("shall be punished by imprisonment of not less than 8 years", "penalty"),
        (
            "Victims shall be provided with appropriate housing and medical care.",
            "victim_protection",
        ),
        (
            "A victim shall not be held criminally liable for offences committed as a direct "
            "result of being trafficked.",
            "non_punishment",
        ),
        ("Victims may be granted a temporary residence permit.", "immigration"),
        ("The State shall conduct public awareness campaigns on trafficking.", "prevention"),
        ("States Parties shall cooperate with INTERPOL and exchange information.", "cooperation"),
        ("Será sancionado con prisión de 5 a 15 años el que capte personas.", "penalty"),
        (
            "Les victimes de la traite bénéficient d'un hébergement et d'une assistance.",
            "victim_protection",
        ),
        # Italian: the model does not cover it, so the rules are its tagger.
        ("Chiunque recluta una persona a fini di sfruttamento è punito.", "criminalization"),
        ("è punito con la reclusione da otto a venti anni", "penalty"),
        ("Alla vittima è rilasciato un permesso di soggiorno.", "immigration"),
        ("Le vittime non sono punibili per i reati commessi.", "non_punishment"),
        (
            "Lo Stato promuove campagne di sensibilizzazione nelle scuole e nei luoghi di lavoro.",
            "prevention",
        ),
        (
            "Le autorità competenti garantiscono la protezione e la tutela delle vittime.",
            "victim_protection",
        ),
        ("Opfer werden für diese Taten nicht bestraft.", "non_punishment"),
    ],
)
def test_provision_cues(tagger: RuleTagger, text: str, label: str) -> None:
    assert label in labels_of(tagger, text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Police officers took bribes from the human trafficking ring.", "corruption"),
        (
            "The trafficking victims were arrested and deported for immigration violations.",
            "victim_penalized",
        ),
        ("Police rescued 12 victims of forced labour from a brick kiln.", "arrest"),
        ("Three men were charged with sex trafficking on Monday.", "prosecution"),
        ("The trafficker was convicted and sentenced to 15 years.", "conviction"),
        ("Shelters for trafficking survivors face a severe shortage of funding.", "resource_gap"),
        ("La policía detuvo a cinco personas por trata de personas.", "arrest"),
        ("I carabinieri hanno arrestato tre persone per tratta di esseri umani.", "arrest"),
        ("Il processo per tratta di esseri umani si apre a marzo.", "prosecution"),
        ("Due trafficanti condannati per riduzione in schiavitù.", "conviction"),
        ("Quatro homens foram presos por tráfico de pessoas.", "arrest"),
    ],
)
def test_signal_cues_in_trafficking_context(tagger: RuleTagger, text: str, label: str) -> None:
    assert label in labels_of(tagger, text)


def test_signal_needs_trafficking_context(tagger: RuleTagger) -> None:
    text = "Police arrested three men on Tuesday."
    assert labels_of(tagger, text) == []
    assert labels_of(tagger, text, title="Forced labour raid at a garment factory") == ["arrest"]
    assert labels_of(tagger, text, prev="Officers raided a farm over human trafficking.") == [
        "arrest"
    ]
    assert labels_of(tagger, text, title="Burglary suspects caught") == []


def test_portuguese_arrest_cue_is_not_any_word_starting_with_pres(tagger: RuleTagger) -> None:
    # "presos" is an arrest; "president", "presented" and "presunte" are not.
    title = "Human trafficking report"
    for text in (
        "The president presented the annual trafficking report.",
        "Le presunte vittime di tratta collaborano con le autorità.",
    ):
        assert "arrest" not in labels_of(tagger, text, title=title)


def test_context_carries_through_a_document(tagger: RuleTagger) -> None:
    first = "Officers freed 40 workers held in debt bondage."
    second = "They said the owners had fled."
    third = "Police arrested three men on Tuesday."
    items = [
        SentenceInput(text=first),
        SentenceInput(text=second, prev=first),
        SentenceInput(text=third, prev=second),
    ]
    assert tagger.predict(items)[2].labels == ["arrest"]
    # The same sentence on its own, after an unrelated one, is none.
    alone = [SentenceInput(text=third, prev="A storm hit the coast.")]
    assert tagger.predict(alone)[0].labels == []


@pytest.mark.parametrize(
    "text",
    [
        "Police arrested five drug traffickers and seized 20 kg of cocaine.",
        "The court convicted him of arms trafficking.",
        "Three men were charged with migrant smuggling across the border.",
        "Wildlife trafficking suspects were arrested with ivory.",
    ],
)
def test_hard_negatives_do_not_fire(tagger: RuleTagger, text: str) -> None:
    assert labels_of(tagger, text) == []
    assert negative_context(text)
    assert not trafficking_context(text)


def test_drug_law_penalty_is_none(tagger: RuleTagger) -> None:
    text = "Any person who contravenes this section shall be liable to imprisonment for 10 years."
    assert "penalty" in labels_of(tagger, text)
    assert labels_of(tagger, text, title="Narcotic Drugs and Psychotropic Substances Act") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The report covers human trafficking in Asia.", True),
        ("Trafficking in persons remains a serious crime.", True),
        ("Victims of forced labour were found.", True),
        ("La trata de personas es un delito grave.", True),
        ("Der Menschenhandel nimmt zu.", True),
        ("Traffickers moved the victims at night.", True),
        ("Drug traffickers moved cocaine at night.", False),
        ("Drug trafficking and human trafficking are both rising.", True),
        ("The bridge reopened after repairs.", False),
        ("", False),
    ],
)
def test_trafficking_context(text: str, expected: bool) -> None:
    assert trafficking_context(text) is expected


def test_rule_hits_names_matching_phrases() -> None:
    hits = rule_hits("Police rescued 12 victims and arrested the traffickers.")
    assert "arrest" in hits
    assert any("rescue" in phrase for phrase in hits["arrest"])
    assert rule_hits("") == {}


def test_statute_kind_blocks_signals(tagger: RuleTagger) -> None:
    text = "The prosecutor may investigate trafficking offences."
    assert "prosecution" in labels_of(tagger, text)
    assert "prosecution" not in labels_of(tagger, text, kind="statute")


def test_list_items_carry_the_lead_in_labels(tagger: RuleTagger) -> None:
    lead = 'The term "coercion" means—'
    item = "(A) threats of serious harm to any person;"
    preds = tagger.predict([SentenceInput(text=lead), SentenceInput(text=item, prev=lead)])
    assert "definition" in preds[0].labels
    assert "definition" in preds[1].labels
    assert "definition" not in tagger.predict([SentenceInput(text=item)])[0].labels


def test_heading_alone_is_none(tagger: RuleTagger) -> None:
    assert labels_of(tagger, "19. Immigration status of victims.") == []


def test_phrase_syntax_compiles_to_matcher_patterns() -> None:
    tok = spacy.blank("xx").tokenizer
    assert compile_phrase("traffick* ~2 arrest|detain*", tok) == [
        {"LOWER": {"REGEX": "(?:^traffick)"}},
        {"OP": "{0,2}"},
        {"LOWER": {"REGEX": "(?:^arrest$)|(?:^detain)"}},
    ]
    assert compile_phrase("official? #", tok) == [
        {"LOWER": "official", "OP": "?"},
        {"LIKE_NUM": True},
    ]
    assert compile_phrase("non-punishment", tok) == [
        {"LOWER": "non"},
        {"LOWER": "-"},
        {"LOWER": "punishment"},
    ]


def _macro_f1(split: str) -> tuple[float, dict[str, float]]:
    """Per-label F1 and macro-F1 of the rule tagger on a gold split (prev = previous sentence)."""
    path = GOLD / f"{split}.jsonl"
    if not path.exists():
        pytest.skip(f"gold data not found at {path}")
    items: list[SentenceInput] = []
    gold: list[set[str]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            prev = None
            for sent in doc["sentences"]:
                text = doc["text"][sent["start"] : sent["end"]]
                items.append(SentenceInput(text=text, prev=prev, language=doc["language"]))
                gold.append(set(sent["labels"]))
                prev = text
    preds = RuleTagger().predict(items)
    f1: dict[str, float] = {}
    for label in LABELS:
        tp = sum(label in g and label in p.labels for g, p in zip(gold, preds, strict=True))
        fp = sum(label not in g and label in p.labels for g, p in zip(gold, preds, strict=True))
        fn = sum(label in g and label not in p.labels for g, p in zip(gold, preds, strict=True))
        f1[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return sum(f1.values()) / len(f1), f1


@pytest.mark.slow
def test_rules_baseline_on_dev() -> None:
    """The baseline is a real baseline: every label fires usefully, macro-F1 ~0.45 on dev."""
    macro, per_label = _macro_f1("dev")
    assert macro >= 0.4, per_label
    assert all(v > 0.2 for v in per_label.values()), per_label


def _reference_matchers() -> list[Matcher]:
    """A spaCy ``Matcher`` per compiled rule, from ``compile_phrase``: the reference."""
    from tipnlp.nlp import rules

    return _matchers_for(rules._nlp())


@functools.lru_cache(maxsize=1)
def _matchers_for(nlp: Language) -> list[Matcher]:
    from tipnlp.nlp import rules

    out = []
    for rule in rules._compiled().rules:
        matcher = Matcher(nlp.vocab, validate=True)
        matcher.add(rule.key, [compile_phrase(rule.phrase, nlp.tokenizer)])
        out.append(matcher)
    return out


def _brute_force_hits(text: str) -> dict[str, list[str]]:
    """Every rule's spaCy matcher on ``text``, no pre-filter: what ``_all_hits`` must equal."""
    from tipnlp.nlp import rules

    doc = rules._nlp().make_doc(text)
    out: dict[str, list[str]] = {}
    for rule, matcher in zip(rules._compiled().rules, _reference_matchers(), strict=True):
        if rule.phrase not in out.get(rule.key, []) and matcher(doc):
            out.setdefault(rule.key, []).append(rule.phrase)
    return out


def _gold_sentences(split: str, limit: int | None = None) -> list[str]:
    path = GOLD / f"{split}.jsonl"
    if not path.is_file():
        pytest.skip("../shared gold data not beside the checkout")
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        doc = json.loads(line)
        texts += [doc["text"][s["start"] : s["end"]] for s in doc["sentences"]]
    return texts


def test_phrase_regexes_match_where_the_spacy_matcher_matches() -> None:
    """Each phrase's expression over ``token_string`` decides what its ``Matcher`` decides.

    On every gold sentence (train and dev), for every phrase the pre-filter
    lets through (the others cannot match, see the next test).
    """
    from tipnlp.nlp import rules

    comp = rules._compiled()
    matchers = _reference_matchers()
    texts = _gold_sentences("train") + _gold_sentences("dev")
    texts += ["Art. 5: 10 años", "TWO-THIRDS of 1,000 victims", "three\x1f traffick\x1e 4"]
    checked = positives = 0
    for text in texts:
        lowered = text.lower()
        candidates = set(comp.always)
        for word in set(lowered.split()):
            candidates.update(comp.unlocked(word))
        doc = rules._nlp().make_doc(text)
        tokens = rules.token_string(doc)
        for index in candidates:
            want = bool(matchers[index](doc))
            assert bool(comp.rules[index].regex.search(tokens)) == want, (
                comp.rules[index].phrase,
                text,
            )
            checked += 1
            positives += want
    assert checked > 50_000 and positives > 5_000  # the sentences exercise the rules


def test_token_string_marks_numbers_and_neutralises_control_characters() -> None:
    from tipnlp.nlp import rules

    nlp = rules._nlp()
    doc = nlp.make_doc("Up to 10 Years\x1fhere")  # the tokenizer splits \x1f off
    tokens = rules.token_string(doc)
    assert tokens.split("\x1f")[1:-1] == ["up", "to", "\x1e10", "years", "\x1d", "here"]
    cases = [("up to # years|months here", False), ("to # ~1 here", False), ("to # ~2 here", True)]
    for phrase, want in cases:
        matcher = Matcher(nlp.vocab)
        matcher.add("x", [compile_phrase(phrase, nlp.tokenizer)])
        assert bool(matcher(doc)) is want
        assert bool(rules.phrase_regex(phrase, nlp.tokenizer).search(tokens)) is want
    with pytest.raises(rules.PatternError, match="no required word"):
        rules.phrase_regex("official? ~2", rules._nlp().tokenizer)


def test_prefilters_skip_only_rules_that_cannot_match() -> None:
    """Anchors, required words and the per-word memo lose no match (gold sentences)."""
    from tipnlp.nlp import rules

    texts = _gold_sentences("dev", limit=60)
    texts += ["NON-PUNISHMENT of victims", "Trata de Personas y tráfico ilícito", ""]
    hits = 0
    for text in texts:
        want = _brute_force_hits(text) if text else {}
        assert rules._all_hits(text) == want, text
        hits += sum(map(len, want.values()))
    assert hits > 50  # the sample exercises many rules


def test_word_memo_is_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    from tipnlp.nlp import rules

    comp = rules._compiled()
    monkeypatch.setattr(rules, "_WORD_MEMO", 3)
    comp.by_word.clear()
    for word in ["trafficking", "victims", "of", "x", "smuggling", "forced-labour"]:
        want = {i for a, idx in comp.by_anchor.items() if a in word for i in idx}
        assert set(comp.unlocked(word)) == want
        assert len(comp.by_word) <= 3
    comp.by_word.clear()


#: The digest of the pattern files each rule-set version stands for.
_PATTERN_DIGESTS = {"rules-v2": "beb94b40a3a5003b"}


def test_rules_version_changes_with_the_pattern_files() -> None:
    """Rows carry ``RULES_VERSION``: edited patterns need a new version to stay traceable."""
    import hashlib
    from importlib import resources

    digest = hashlib.sha256()
    root = resources.files("tipnlp.nlp") / "patterns"
    for f in sorted(root.iterdir(), key=lambda x: x.name):
        if f.name.endswith(".yaml"):
            digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    assert _PATTERN_DIGESTS.get(RULES_VERSION) == digest.hexdigest()[:16], (
        "the pattern files changed: bump RULES_VERSION in tipnlp/nlp/rules.py and record "
        f"{digest.hexdigest()[:16]} for it in _PATTERN_DIGESTS"
    )
