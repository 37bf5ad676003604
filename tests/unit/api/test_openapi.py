"""The OpenAPI document: every route documented with a response model and an example, and the
examples agree with what the routes really answer."""

from __future__ import annotations

from nepse.api import schemas
from tests.unit.api.conftest import VERSION, client


def test_every_route_has_a_documented_answer_with_an_example(scored):
    doc = client(scored).get("/openapi.json").json()
    components = doc["components"]["schemas"]
    assert len(doc["paths"]) == 15
    for path, item in doc["paths"].items():
        assert set(item) == {"get"}, path  # read-only
        op = item["get"]
        assert op["description"] and op["tags"], path
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        model = components[ok.rsplit("/", 1)[1]]
        assert model.get("examples"), (path, ok)
        assert "404" in op["responses"] and "304" in op["responses"], path
    assert doc["paths"]["/predictions/latest"]["get"]["responses"]["200"]["content"].keys() == {
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
    }


def test_real_answers_validate_against_the_documented_models(scored):
    c = client(scored)
    day = scored.days[-1]
    for url, model in [
        ("/predictions/latest", schemas.Predictions),
        (f"/predictions/{day}", schemas.Predictions),
        ("/days", schemas.Days),
        ("/drift/latest", schemas.Drift),
        ("/models", schemas.Models),
        (f"/models/{VERSION}", schemas.Model),
        ("/health", schemas.Health),
        ("/orders/latest", schemas.Problem),
    ]:
        model.model_validate(c.get(url).json())
    for model in (schemas.Predictions, schemas.Health, schemas.Drift, schemas.Models):
        example = model.model_config["json_schema_extra"]["examples"][0]
        model.model_validate(example)
