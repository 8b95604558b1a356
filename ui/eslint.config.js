import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default ts.config(
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser } },
  },
  {
    // Only the api layer may talk to Tauri; components go through it.
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    ignores: ['src/lib/api/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@tauri-apps/api/core', '@tauri-apps/api/*'] },
      ],
    },
  },
  { ignores: ['dist/', 'node_modules/'] },
);
