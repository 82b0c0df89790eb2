"""JSON Schema from the pydantic declarations (api/web/shapes.py), as the OpenAPI document holds it."""

from collections.abc import Sequence

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPISchema(GenerateJsonSchema):
    """pydantic's JSON Schema with objects' keys in propertyNames, and without titles or null defaults."""

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """Describe keys in propertyNames and values in additionalProperties, whatever the keys' pattern.

        pydantic would move a key pattern to patternProperties, leaving additionalProperties
        open; the page (api/web/static/index.js) reads additionalProperties.maxLength.
        """
        values = self.generate_inner(schema["values_schema"]) if "values_schema" in schema else {}
        json_schema: JsonSchemaValue = {"type": "object", "additionalProperties": values or True}
        keys = self.generate_inner(schema["keys_schema"]) if "keys_schema" in schema else {}
        if set(keys) - {"type"}:  # constrained: a bare string key says nothing JSON does not
            json_schema["propertyNames"] = keys
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.object)
        return json_schema

    def field_title_should_be_set(self, schema: object) -> bool:
        """No titles: they restate the field names."""
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        """No title: the component's name is the model's."""
        json_schema = super().model_schema(schema)
        json_schema.pop("title", None)
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        """Leave out a None default: an optional key of the API is absent, never null."""
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def components(
    models: Sequence[type[BaseModel]],
) -> tuple[dict[type[BaseModel], JsonSchemaValue], dict[str, JsonSchemaValue]]:
    """Return a $ref to each of ``models``, and the schemas of them and of the models they use, by name."""
    refs, definitions = models_json_schema(
        [(model, "validation") for model in models],
        ref_template=REF_TEMPLATE,
        schema_generator=OpenAPISchema,
    )
    return {model: refs[(model, "validation")] for model in models}, definitions.get("$defs", {})


def query_parameters(query: type[BaseModel]) -> list[JsonSchemaValue]:
    """Return the OpenAPI parameters of a query string declared as the model ``query``."""
    properties = query.model_json_schema(schema_generator=OpenAPISchema)["properties"]
    return [
        {"name": name, "in": "query", "description": schema.pop("description"), "schema": schema}
        for name, schema in properties.items()
    ]
