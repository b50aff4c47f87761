from storychat.cost import count_tokens


def test_cl100k_counts_work_offline_and_add_up():
    one = count_tokens(["As a moderator, I want to create a new game."])
    assert one == 12
    assert count_tokens(["As a moderator, I want to create a new game."] * 3) == 3 * one
    assert count_tokens(["<|endoftext|> is plain text here"]) > 1
