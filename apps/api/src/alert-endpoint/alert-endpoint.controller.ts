import { Body, Controller, Delete, Get, HttpCode, Post, Put } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { RotatedSecretDto, TestSentDto } from '../webhooks/webhooks.dto';
import {
  AlertEndpointDto,
  AlertTestDto,
  PutAlertEndpointDto,
  PutAlertEndpointResultDto,
} from './alert-endpoint.dto';
import { AlertEndpointService } from './alert-endpoint.service';

const NONE = 'The tenant has no alert endpoint';

@ApiTags('alert-endpoint')
@ApiBearerAuth()
@Controller('alert-endpoint')
export class AlertEndpointController {
  constructor(private readonly alerts: AlertEndpointService) {}

  @Get()
  @ApiOperation({ summary: "The tenant's alert endpoint (never its secret)" })
  @ApiOkResponse({ type: AlertEndpointDto })
  @ApiNotFoundResponse({ description: NONE })
  get(@Tenant() t: TenantCtx) {
    return this.alerts.get(t);
  }

  @Put()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Set the URL that receives failing / disabled / enabled / exhausted alerts for every subscription ' +
      '(the response that creates it is the only one with the secret)',
  })
  @ApiOkResponse({ type: PutAlertEndpointResultDto })
  @ApiUnprocessableEntityResponse({ description: 'The URL is not an acceptable endpoint' })
  put(@Tenant() t: TenantCtx, @Body() body: PutAlertEndpointDto) {
    return this.alerts.put(t, body);
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove the alert endpoint' })
  @ApiNoContentResponse({ description: 'Removed; alerts go only to subscriptions and streams' })
  @ApiNotFoundResponse({ description: NONE })
  async remove(@Tenant() t: TenantCtx): Promise<void> {
    await this.alerts.remove(t);
  }

  @Post('rotate-secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'New signing secret for the alert endpoint; the old one keeps signing for the grace period',
  })
  @ApiOkResponse({ type: RotatedSecretDto })
  @ApiNotFoundResponse({ description: NONE })
  rotateSecret(@Tenant() t: TenantCtx) {
    return this.alerts.rotateSecret(t);
  }

  @Post('test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a `webhook.test` event to the alert endpoint' })
  @ApiAcceptedResponse({ type: TestSentDto })
  @ApiNotFoundResponse({ description: NONE })
  sendTest(@Tenant() t: TenantCtx, @Body() body: AlertTestDto) {
    return this.alerts.sendTest(t, body.message);
  }
}
