// Type-aware lint for async correctness, plus the dependency direction of DESIGN.md §1:
// apps never import apps; libs never import apps; events and signing import nothing of ours.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noAppImports = {
  group: ['**/apps/**', '../../apps/*'],
  message: 'Libraries and apps never import another app.',
};
const noRelativeLibs = {
  group: ['**/libs/*', '**/libs/**'],
  message: 'Import libraries through @tidings/<lib>.',
};

// IsOptional lets null through to services that expect the declared type, and IsISO8601 accepts spellings
// that Date cannot read: DTOs use IfPresent / Nullable and IsTimestamp (apps/api/src/http).
const noIsOptional = {
  name: 'class-validator',
  importNames: ['IsOptional'],
  message:
    'Use IfPresent (null is validated) or Nullable (null clears) from apps/api/src/http/optional.validator.',
};
const noIsISO8601 = {
  name: 'class-validator',
  importNames: ['IsISO8601', 'IsDateString'],
  message: 'Use IsTimestamp from apps/api/src/http/timestamp.validator.',
};

export default tseslint.config(
  { ignores: ['dist/**', '**/dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // Query results are typed by assertion at the call site; the rule's "infer from assertion" variant is noise.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      'no-restricted-imports': [
        'error',
        { patterns: [noAppImports, noRelativeLibs], paths: [noIsOptional, noIsISO8601] },
      ],
    },
  },
  {
    files: ['libs/events/**/*.ts', 'libs/signing/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noAppImports,
            noRelativeLibs,
            { group: ['@tidings/*'], message: 'events and signing are pure: they import nothing of ours.' },
            {
              group: ['@nestjs/*', 'typeorm', 'kafkajs', 'pg'],
              message: 'events and signing are pure: no Nest, no I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests and tooling (dev runner, benchmarks) may boot any app; they still import libraries through @tidings/<lib>.
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/require-await': 'off',
      'no-restricted-imports': ['error', { patterns: [noRelativeLibs] }],
    },
  },
);
