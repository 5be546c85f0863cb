from mythscan.splitting import split_sentences


def check_offsets(text, spans):
    for s in spans:
        assert text[s.start : s.end] == s.text


def test_offsets_and_abbreviations():
    text = 'The U.S. Senate held a hearing. Dr. Li said the lists are "manual and slow." Then it ended!'
    spans = split_sentences(text)
    check_offsets(text, spans)
    assert [s.text for s in spans] == [
        "The U.S. Senate held a hearing.",
        'Dr. Li said the lists are "manual and slow."',
        "Then it ended!",
    ]


def test_headlines_and_bullets_are_their_own_sentences():
    text = "China's Digital Report Card\n\nBy a staff writer\n- First point about blacklists\n* Second point\n1. Third point here\nA normal sentence. And another."
    spans = split_sentences(text)
    check_offsets(text, spans)
    assert [s.text for s in spans] == [
        "China's Digital Report Card",
        "By a staff writer",
        "First point about blacklists",
        "Second point",
        "Third point here",
        "A normal sentence.",
        "And another.",
    ]


def test_unicode_offsets_are_characters():
    text = "“Every citizen has a score,” the tabloid wrote — wrongly. 中国 has no such thing."
    spans = split_sentences(text)
    check_offsets(text, spans)
    assert len(spans) == 2


def test_empty_text():
    assert split_sentences("   \n\n ") == []
