import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/tenant.decorator';
import { ConsoleService } from './console.service';

/**
 * The web console: a static page that signs in with an API key and then calls the public API like any
 * client (the key stays in the browser). Outside the API contract, so not in the OpenAPI document.
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  constructor(private readonly console: ConsoleService) {}

  @Get()
  page(@Res() res: Response): void {
    this.console.send(res, 'index.html');
  }

  @Get('config.json')
  config(@Res() res: Response): void {
    this.console.sendConfig(res);
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    this.console.send(res, file);
  }
}
