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


def _cn(text, n, conf=0.97):
    return [PlateRead(text=text, confidence=conf, country="CN", format="cn_ordinary")] * n


def test_reads_split_between_provinces_abstain_instead_of_guessing():
    """A small glyph is read as a look-alike province with full confidence: when no province has more than twice
    the reads of another, the passage's plate is a `province_disagrees` no-read with the candidates in `raw`."""
    v = vote_plate(_cn("苏G603HZ", 3) + _cn("浙G603HZ", 2))
    assert v is not None and v.read.text is None and v.read.reason == "province_disagrees"
    assert v.read.raw == "苏G603HZ / 浙G603HZ" and v.support == 5
    assert vote_plate(_cn("鲁AST546", 2) + _cn("晋AST546", 1)).read.reason == "province_disagrees"
    # a clear majority stands (3:1, seen on right passages), and so does one province read many times
    assert vote_plate(_cn("皖A80375", 3) + _cn("赣A80375", 1)).read.text == "皖A80375"
    assert vote_plate(_cn("湘AL8387", 5) + _cn("鄂AL8387", 1) + _cn("湘AL8381", 1)).read.text == "湘AL8387"
    # serial misreads under one province are the ordinary vote's business
    assert vote_plate(_cn("京NQ1E11", 2) + _cn("京NQ1ELL", 2)).read.text is not None
    # a province read on another serial (two characters off) is not a vote on this plate's province
    assert vote_plate(_cn("苏G603HZ", 2) + _cn("浙G608HX", 2) + _cn("苏G603HZ", 1)).read.text == "苏G603HZ"


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
