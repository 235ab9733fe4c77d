from edge.decision.voting import vote_containers, vote_plate
from edge.domain.types import ContainerRead, PlateRead


def _p(text, conf, fmt="vn_truck"):
    return PlateRead(text=text, confidence=conf, country="VN", format=fmt)


def test_biggest_cluster_beats_one_confident_outlier():
    reads = [_p("24C12345", 0.80), _p("24C12345", 0.82), _p("24C12346", 0.7), _p("51F99881", 0.99)]
    v = vote_plate(reads)
    assert v is not None
    assert v.read.text == "24C12345"
    assert v.support == 3 and v.total == 4


def test_no_text_reads_give_no_vote():
    assert vote_plate([PlateRead(reason="no_text"), PlateRead(reason="grammar_mismatch")]) is None


def test_grammar_valid_member_preferred_inside_cluster():
    reads = [_p("24C1234S", 0.95, fmt=None), _p("24C12345", 0.7)]
    v = vote_plate(reads)
    assert v is not None and v.read.text == "24C12345"


def _c(code, ok, conf=0.9, corrected=False):
    return ContainerRead(code=code, check_digit_ok=ok, confidence=conf, corrected=corrected)


def test_two_containers_stay_distinct_and_misreads_fold_into_verified_code():
    reads = [
        _c("MSKU1234565", True), _c("MSKU1234565", True), _c("MSKU1234S65", False),
        _c("TGHU9876543", True, 0.8),
    ]
    codes = [c.code for c in vote_containers(reads)]
    assert codes == ["MSKU1234565", "TGHU9876543"]


def test_unverified_code_alone_is_kept_for_the_policy_to_flag():
    out = vote_containers([_c("ABCU1234560", False), _c("ABCU1234560", False)])
    assert len(out) == 1 and not out[0].check_digit_ok
