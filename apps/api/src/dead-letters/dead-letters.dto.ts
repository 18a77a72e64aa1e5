import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, MaxLength } from 'class-validator';
import { IsEventTypePattern, PageQueryDto } from '../webhooks/webhooks.dto';
import { IfPresent } from '../http/optional.validator';
import { IsTimestamp } from '../http/timestamp.validator';

export class DeadLettersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'whk_0193a4e27b1c7d4e8f00123456789abc' })
  @IfPresent()
  @IsString()
  @MaxLength(100)
  subscriptionId?: string;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *' })
  @IfPresent()
  @IsEventTypePattern()
  eventType?: string;
}

export class ReplayDeadLettersDto {
  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @MaxLength(100)
  subscriptionId?: string;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *' })
  @IfPresent()
  @IsEventTypePattern()
  eventType?: string;

  @ApiPropertyOptional({ description: 'Died at or after this time' })
  @IfPresent()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({ description: 'Died before this time' })
  @IfPresent()
  @IsTimestamp()
  until?: string;

  @ApiPropertyOptional({ default: false, description: 'Only count what would be replayed' })
  @IfPresent()
  @IsBoolean()
  dryRun?: boolean;
}
