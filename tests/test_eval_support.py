"""The support check's evaluation: the shipped hand labels, and the scoring on a small invented labels file."""

from __future__ import annotations

import json

import pytest

from storychat.evals.support import (
    LABEL_VALUES,
    LABELS,
    REALISTIC,
    SHAPES,
    TARGET_UNSUPPORTED_SHOWN,
    LabelError,
    evaluate,
    figures,
    load_labels,
    main,
    misses,
)

G04_3 = (
    "As a user, I want to be able to enter my zip code and get a list of nearby recycling facilities, "
    "so that I can determine which ones I should consider."
)


def labelled(tmp_path, sentences, stories=None, name="labels.jsonl"):
    record = {
        "set": "qa-dalpiaz", "line": 1, "backlog": "g04-recycling.txt", "question": "Can I search by zip code?",
        "best_match": 0.5, "gate_refuses": False, "raw": " ".join(s["text"] for s in sentences),
        "citations": ["g04-recycling-3"], "stories": stories or {"g04-recycling-3": G04_3},
        "sentences": sentences,
    }
    path = tmp_path / name
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def sentence(text, label, against=("g04-recycling-3",)):
    return {"text": text, "cites": [], "against": list(against), "label": label}


def test_the_scores_count_unsupported_sentences_shown_and_supported_ones_flagged(tmp_path, dalpiaz):
    path = labelled(tmp_path, [
        sentence(f"[g04-recycling-3] {G04_3}", "supported"),
        sentence("Users enter their zip code and get nearby recycling facilities.", "supported"),
        sentence("Users pay a fee for every pick up.", "unsupported"),
        sentence("The answer is:", "no claim"),
        # Labelled supported by a reader who takes "centers" for "facilities"; the check flags it.
        sentence("Users find recycling centers by zip code.", "supported"),
    ])
    outcomes = evaluate(load_labels(path), dalpiaz)
    f = figures(outcomes)
    assert (f.answers, f.sentences, f.unsupported, f.unsupported_shown) == (1, 5, 1, 0)
    assert (f.supported, f.supported_flagged, f.no_claim, f.no_claim_flagged) == (3, 1, 1, 0)
    assert [o.sentence.text for o in misses(outcomes)] == ["Users find recycling centers by zip code."]


def test_an_unsupported_sentence_the_check_passes_is_counted_as_shown(tmp_path, dalpiaz):
    # The words are all the story's, but a reader sees that it says the opposite order of events.
    path = labelled(tmp_path, [sentence("Users get a list of facilities so that they can enter a zip code.", "unsupported")])
    f = figures(evaluate(load_labels(path), dalpiaz))
    assert (f.unsupported, f.unsupported_shown) == (1, 1)


def test_a_sentence_without_a_valid_label_is_refused_with_its_line(tmp_path):
    path = labelled(tmp_path, [sentence("Users enter a zip code.", "maybe")])
    with pytest.raises(LabelError, match=r"labels.jsonl line 1: .*'maybe'"):
        load_labels(path)


def test_a_labelled_story_whose_text_changed_is_refused(tmp_path, dalpiaz):
    path = labelled(tmp_path, [sentence("Users enter a zip code.", "supported")], {"g04-recycling-3": "As a user, I want X."})
    with pytest.raises(LabelError, match="g04-recycling-3 no longer reads as it did"):
        evaluate(load_labels(path), dalpiaz)


def test_the_shipped_labels_cover_at_least_100_model_answers_on_both_sets():
    answers = load_labels(LABELS)
    assert len(answers) >= 100
    assert len({a.line for a in answers if a.set == "qa-dalpiaz"}) == 81
    assert sum(a.set == "qa-extra" for a in answers) >= 19
    assert all(a.sentences for a in answers)


def test_the_realistic_set_loads_with_every_sentence_labelled_on_three_backlogs_with_a_blind_third():
    answers = load_labels(REALISTIC)
    assert len(answers) >= 60
    assert {a.backlog for a in answers} == {"g19-alfred.txt", "leave.csv", "usergrid.csv"}
    blind = [a for a in answers if a.set == "realistic-blind"]
    assert {a.set for a in answers} == {"realistic", "realistic-blind"} and len(blind) * 3 >= len(answers) - 2
    sentences = [s for a in answers for s in a.sentences]
    assert all(s.label in LABEL_VALUES and s.shape in SHAPES for s in sentences)
    assert all(set(s.against) <= set(a.stories) for a in answers for s in a.sentences)
    shapes = [s.shape for s in sentences]
    assert all(shapes.count(shape) >= 3 for shape in SHAPES)


def test_a_sentence_with_an_unknown_shape_is_refused_with_its_line(tmp_path):
    path = labelled(tmp_path, [{**sentence("Users enter a zip code.", "supported"), "shape": "negation"}])
    with pytest.raises(LabelError, match=r"labels.jsonl line 1: .*'negation'"):
        load_labels(path)


def test_a_backlog_outside_the_data_folder_is_judged_against_the_text_stored_with_its_answers(tmp_path, dalpiaz):
    # A Jira item's description, which today's importer drops, backs the sentence.
    item = "Expose refresh token at the REST tier\n\nRefresh tokens were in the core but were removed some time ago."
    path = labelled(tmp_path, [sentence("Refresh tokens were removed from the core.", "supported", ["USERGRID-17"])],
                    {"USERGRID-17": item})
    record = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**record, "backlog": "usergrid.csv"}) + "\n", encoding="utf-8")
    outcomes = evaluate(load_labels(path), dalpiaz)
    assert [o.flagged for o in outcomes] == [False] and misses(outcomes) == []


def test_by_words_alone_no_unsupported_sentence_of_issue_16s_labels_is_shown_as_supported(dalpiaz):
    """Issue 16's headline, on its 111 answers; the figures of the later labels are in docs/evaluation.md."""
    answers = [a for a in load_labels(LABELS) if a.set in ("qa-dalpiaz", "qa-extra")]
    f = figures(evaluate(answers, dalpiaz))
    assert f.unsupported == 106 and f.unsupported_shown == 0


def test_with_meaning_the_tuning_labels_meet_both_targets(dalpiaz, embedder):
    """What CARRIES was chosen for, on qa-dalpiaz only: no unsupported sentence shown (✓ or ≈), at most 10% of the
    supported ones flagged. The held-out sets' figures (they miss) are reported in docs/evaluation.md, not asserted."""
    f = figures(evaluate([a for a in load_labels(LABELS) if a.set == "qa-dalpiaz"], dalpiaz, embedder))
    assert f.unsupported_shown == 0 and f.supported_flagged_share <= 0.10
    assert f.supported_paraphrased >= 13  # most of what words flagged, now supported in other words (or by words)


def test_with_meaning_the_paypal_claim_stays_flagged_on_every_label(dalpiaz, embedder):
    claims = [o for o in evaluate(load_labels(LABELS), dalpiaz, embedder) if "PayPal" in o.sentence.text or "Excel sheet" in o.sentence.text]
    assert claims and all(o.flagged for o in claims)


def test_the_command_prints_the_figures_of_every_set_and_the_misses(capsys):
    assert main(["--misses"]) == 0
    out = capsys.readouterr().out
    assert "unsupported shown as supported" in out and "held out (qa-heldout)" in out and "supported in other words" in out
    assert f"<= {TARGET_UNSUPPORTED_SHOWN:.1%}" in out
