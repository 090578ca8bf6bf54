/**
 * JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of the valibot
 * schemas the routes validate with, so the OpenAPI description is generated
 * from them rather than written twice. `@valibot/to-json-schema` does the
 * conversion; what it cannot know about our schemas is settled here:
 * - a query parameter (`QueryValue`: text, or a list when repeated) is
 *   described as the text it is: a string, or, when the pipe goes on to an
 *   array, that array (sent comma-separated);
 * - `transform(Number)` turns the text into an integer, so the bounds after it
 *   are numeric and a default given as text is that number;
 * - checks and transformations JSON Schema cannot express (a real calendar
 *   date, a bbox in range, trimming) are left to the descriptions.
 * Named schemas become `#/components/schemas/<name>` references.
 */
import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig, type JsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { QueryValue } from './query.ts';

/** A valibot schema of any kind. */
export type AnySchema = v.BaseSchema<unknown, unknown, v.BaseIssue<unknown>>;

/** Where named schemas are referenced from in the OpenAPI document. */
export const COMPONENT_SCHEMAS_PATH = '#/components/schemas/';

/** The conversion settings, with `definitions` as the named (component) schemas. */
function conversionConfig(definitions: Record<string, AnySchema>): ConversionConfig {
  return {
    target: 'draft-2020-12',
    // Checks, trims and transforms have no JSON Schema form; they stay in the descriptions.
    errorMode: 'ignore',
    definitions,
    overrideRef: ({ referenceId }) => `${COMPONENT_SCHEMAS_PATH}${referenceId}`,
    overrideSchema: ({ valibotSchema, jsonSchema }) => {
      if (valibotSchema === QueryValue) return { type: 'string' };
      if (jsonSchema.type === 'integer' && typeof jsonSchema.default === 'string') return { ...jsonSchema, default: Number(jsonSchema.default) };
      return null;
    },
    overrideAction: ({ valibotAction }) => {
      if (valibotAction.type === 'transform' && (valibotAction as v.TransformAction<unknown, unknown>).operation === Number) return { type: 'integer' };
      return null;
    },
  };
}

/** Drops what a standalone JSON Schema carries but an embedded OpenAPI schema must not repeat. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, $defs: _definitions, ...rest } = schema;
  return rest;
}

/**
 * A converter for one document: `schemaOf` converts a schema, referring to
 * the `definitions` by name wherever they occur; `components` are those
 * definitions themselves, for `components.schemas`.
 */
export function jsonSchemaConverter(definitions: Record<string, AnySchema>) {
  const config = conversionConfig(definitions);
  return {
    schemaOf: (schema: AnySchema): JsonSchema => embedded(toJsonSchema(schema, config)),
    components: (): Record<string, JsonSchema> => toJsonSchemaDefs(definitions, config),
  };
}

/** The entries of an object schema, also when it is wrapped in a pipe of checks. */
export function objectEntries(schema: AnySchema): v.ObjectEntries {
  const object = 'pipe' in schema ? (schema.pipe as readonly AnySchema[])[0]! : schema;
  if (!('entries' in object)) throw new Error(`not an object schema: ${object.type}`);
  return object.entries as v.ObjectEntries;
}
