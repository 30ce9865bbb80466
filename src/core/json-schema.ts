import { Ajv, type ValidateFunction } from 'ajv';

// One instance: ajv caches compiled schemas by identity, and compiling is the expensive part.
const ajv = new Ajv({ allErrors: true, strict: false });

/** Compiles a JSON Schema (draft-07 / 2019 subset ajv supports), or throws ajv's message. */
export function compileJsonSchema(schema: Record<string, unknown>): ValidateFunction {
  return ajv.compile(schema);
}

/** ajv's errors as short "path: message" lines. */
export function describeSchemaErrors(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`);
}
