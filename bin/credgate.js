#!/usr/bin/env node
import '../dist/src/app/cli/main.js';
